// longest_first truncation of a pair, as the fast tokenizer's truncate_encodings does it.
#pragma once

#include <cstddef>

namespace tce::tok {

struct TruncatedLengths {
  size_t a = 0;
  size_t b = 0;
};

// How many tokens of A and B longest_first keeps within `budget` tokens (max_length minus the
// special tokens the post-processor adds). The fast tokenizer's rule: if both fit, keep both;
// else if twice the shorter fits, keep the shorter and cut the longer to the rest; else cut both
// to half, the longer getting the odd token, and B getting it on a tie.
TruncatedLengths LongestFirst(size_t len_a, size_t len_b, size_t budget);

}  // namespace tce::tok
