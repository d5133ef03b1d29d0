// BERT's post-processing: longest_first truncation and the [CLS] A [SEP] (B [SEP]) template.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tce::tok {

struct TruncatedLengths {
  size_t a = 0;
  size_t b = 0;
};

// How many tokens of A and B longest_first keeps within `budget` tokens (max_length minus the
// special tokens). The fast tokenizer's rule: if both fit, keep both; else if twice the
// shorter fits, keep the shorter and cut the longer to the rest; else cut both to half, the
// longer getting the odd token, and B getting it on a tie.
TruncatedLengths LongestFirst(size_t len_a, size_t len_b, size_t budget);

// The number of special tokens the template adds.
inline size_t SpecialTokenCount(bool pair) { return pair ? 3 : 2; }

// Writes the final ids and type ids. `b` is null for a single sequence.
void ApplyTemplate(const std::vector<int32_t>& a, size_t keep_a, const std::vector<int32_t>* b,
                   size_t keep_b, bool add_special_tokens, int32_t cls_id, int32_t sep_id,
                   std::vector<int32_t>& ids, std::vector<int32_t>& type_ids);

}  // namespace tce::tok
