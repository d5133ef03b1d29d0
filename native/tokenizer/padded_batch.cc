#include "tokenizer/padded_batch.h"

#include <algorithm>

namespace tce::tok {

void FillPaddedBatch(const Encoding* const* rows, size_t n, int32_t pad_id, PaddedBatch& out) {
  size_t seq_len = 0;
  for (size_t i = 0; i < n; ++i) seq_len = std::max(seq_len, rows[i]->ids.size());
  out.rows = n;
  out.seq_len = seq_len;
  const size_t total = n * seq_len;
  out.input_ids.assign(total, pad_id);
  out.attention_mask.assign(total, 0);
  out.token_type_ids.assign(total, 0);
  for (size_t i = 0; i < n; ++i) {
    const Encoding& e = *rows[i];
    int64_t* ids = out.input_ids.data() + i * seq_len;
    int64_t* mask = out.attention_mask.data() + i * seq_len;
    int64_t* types = out.token_type_ids.data() + i * seq_len;
    std::copy(e.ids.begin(), e.ids.end(), ids);
    std::copy(e.type_ids.begin(), e.type_ids.end(), types);
    std::fill(mask, mask + e.ids.size(), 1);
  }
}

}  // namespace tce::tok
