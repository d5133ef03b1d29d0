// The padded int64 tensors a BERT forward takes, built from encodings: right padding to the
// longest row, [PAD] id, type id 0 and attention mask 0 on padding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace tce::tok {

struct PaddedBatch {
  size_t rows = 0;
  size_t seq_len = 0;
  std::vector<int64_t> input_ids;       // [rows, seq_len]
  std::vector<int64_t> attention_mask;  // [rows, seq_len]
  std::vector<int64_t> token_type_ids;  // [rows, seq_len]
};

// Fills `out` with rows[0..n) padded to the longest of them. Reuses out's storage.
void FillPaddedBatch(const Encoding* const* rows, size_t n, int32_t pad_id, PaddedBatch& out);

}  // namespace tce::tok
