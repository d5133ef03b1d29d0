// Character offsets through the pipeline (Tokenizer::Encode with offsets): every stage that
// rewrites text (normalizers, pre-tokenizers such as Metaspace and ByteLevel) keeps, next to each
// byte it writes, the byte range of the original sequence text that byte came from, the way
// tokenizers' NormalizedString keeps its `alignments`. A token's offsets are then the range from
// the first of its bytes' ranges to the last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tce::tok {

struct ByteRange {
  uint32_t begin = 0;
  uint32_t end = 0;
};

// One ByteRange per byte of a transformed text.
using Alignment = std::vector<ByteRange>;

// Appends `n` copies of `r`: the bytes of one character, 1 to 4 of them, where vector::insert's
// general path costs more than the copies.
inline void AppendRepeated(Alignment& align, size_t n, ByteRange r) {
  for (size_t k = 0; k < n; ++k) align.push_back(r);
}

}  // namespace tce::tok
