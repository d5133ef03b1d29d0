// Character offsets through the pipeline (Tokenizer::Encode with offsets): every stage that
// rewrites text (normalizers, pre-tokenizers such as Metaspace and ByteLevel) keeps, next to each
// byte it writes, the byte range of the original sequence text that byte came from, the way
// tokenizers' NormalizedString keeps its `alignments`. A token's offsets are then the range from
// the first of its bytes' ranges to the last.
#pragma once

#include <cstdint>
#include <vector>

namespace tce::tok {

struct ByteRange {
  uint32_t begin = 0;
  uint32_t end = 0;
};

// One ByteRange per byte of a transformed text.
using Alignment = std::vector<ByteRange>;

}  // namespace tce::tok
