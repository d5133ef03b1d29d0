#include "tokenizer/post_processor.h"

#include <algorithm>

namespace tce::tok {

TruncatedLengths LongestFirst(size_t len_a, size_t len_b, size_t budget) {
  if (len_a + len_b <= budget) return {len_a, len_b};
  const size_t shorter = std::min(len_a, len_b);
  if (2 * shorter <= budget) {
    if (len_a <= len_b) return {len_a, budget - len_a};
    return {budget - len_b, len_b};
  }
  const size_t floor_half = budget / 2;
  const size_t ceil_half = budget - floor_half;
  if (len_a > len_b) return {ceil_half, floor_half};
  return {floor_half, ceil_half};
}

void ApplyTemplate(const std::vector<int32_t>& a, size_t keep_a, const std::vector<int32_t>* b,
                   size_t keep_b, bool add_special_tokens, int32_t cls_id, int32_t sep_id,
                   std::vector<int32_t>& ids, std::vector<int32_t>& type_ids) {
  const size_t specials = add_special_tokens ? SpecialTokenCount(b != nullptr) : 0;
  const size_t total = keep_a + (b ? keep_b : 0) + specials;
  ids.clear();
  ids.reserve(total);
  if (add_special_tokens) ids.push_back(cls_id);
  ids.insert(ids.end(), a.begin(), a.begin() + static_cast<std::ptrdiff_t>(keep_a));
  if (add_special_tokens) ids.push_back(sep_id);
  const size_t first_segment = ids.size();
  if (b) {
    ids.insert(ids.end(), b->begin(), b->begin() + static_cast<std::ptrdiff_t>(keep_b));
    if (add_special_tokens) ids.push_back(sep_id);
  }
  type_ids.assign(ids.size(), 0);
  std::fill(type_ids.begin() + static_cast<std::ptrdiff_t>(first_segment), type_ids.end(), 1);
}

}  // namespace tce::tok
