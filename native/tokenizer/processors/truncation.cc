#include "tokenizer/processors/truncation.h"

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

}  // namespace tce::tok
