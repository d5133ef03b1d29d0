#include "engine/batch_plan.h"

#include <algorithm>
#include <numeric>

namespace tce::engine {

BatchPlan PlanBatches(const std::vector<size_t>& lengths, size_t max_rows, size_t max_tokens) {
  BatchPlan plan;
  plan.order.resize(lengths.size());
  std::iota(plan.order.begin(), plan.order.end(), size_t{0});
  // Longest first: the first batch is the largest, so running out of memory shows up at once.
  std::stable_sort(plan.order.begin(), plan.order.end(),
                   [&](size_t x, size_t y) { return lengths[x] > lengths[y]; });
  max_rows = std::max<size_t>(1, max_rows);
  size_t begin = 0;
  while (begin < plan.order.size()) {
    const size_t seq_len = std::max<size_t>(1, lengths[plan.order[begin]]);
    // Rows are sorted by decreasing length, so the first row fixes the batch's padded width.
    const size_t by_tokens = std::max<size_t>(1, max_tokens / seq_len);
    const size_t rows = std::min({max_rows, by_tokens, plan.order.size() - begin});
    plan.batches.push_back({begin, begin + rows, seq_len});
    begin += rows;
  }
  return plan;
}

}  // namespace tce::engine
