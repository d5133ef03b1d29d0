// Orders a call's encoded pairs by length and cuts them into batches under a token budget, so
// that little padding is computed and each forward is as large as allowed.
#pragma once

#include <cstddef>
#include <vector>

namespace tce::engine {

struct BatchSlice {
  size_t begin = 0;  // into the plan's order
  size_t end = 0;
  size_t seq_len = 0;  // the longest row of the slice: every row is padded to it
};

struct BatchPlan {
  std::vector<size_t> order;  // input indices, longest first (stable among equal lengths)
  std::vector<BatchSlice> batches;
};

// lengths[i] = token count of input i. A batch holds at most max_rows rows and at most
// max_tokens padded tokens, and always at least one row.
BatchPlan PlanBatches(const std::vector<size_t>& lengths, size_t max_rows, size_t max_tokens);

}  // namespace tce::engine
