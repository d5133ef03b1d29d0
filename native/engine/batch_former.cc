#include "engine/batch_former.h"

#include <algorithm>

namespace tce::engine {

void BatchFormer::Take(PredictJob& job, size_t k, FormedBatch& batch) {
  job.taken[k] = 1;
  ++job.scheduled;
  batch.rows.push_back({&job, job.order[k]});
  while (job.head < job.order.size() && job.taken[job.head]) ++job.head;
}

FormedBatch BatchFormer::Next(const std::vector<PredictJob*>& jobs) {
  FormedBatch batch;
  if (jobs.empty()) return batch;

  // Round-robin by arrival: the first job that arrived after the last anchor, else the oldest.
  PredictJob* anchor = jobs.front();
  for (PredictJob* job : jobs) {
    if (job->arrival > last_anchor_arrival_) {
      anchor = job;
      break;
    }
  }
  last_anchor_arrival_ = anchor->arrival;

  const PredictOptions& options = anchor->options;
  batch.options = &options;
  const size_t max_rows = std::max<size_t>(1, options.batch_size);
  // The anchor's longest remaining pair fixes the padded width of the batch.
  batch.seq_len = std::max<size_t>(1, anchor->length_at(anchor->head));
  const size_t row_budget =
      std::min(max_rows, std::max<size_t>(1, options.max_batch_tokens / batch.seq_len));

  while (batch.rows.size() < row_budget && anchor->head < anchor->order.size()) {
    Take(*anchor, anchor->head, batch);
  }
  if (!share_) return batch;

  for (PredictJob* job : jobs) {
    if (batch.rows.size() >= row_budget) break;
    if (job == anchor || job->remaining() == 0 || !job->options.CompatibleWith(options)) continue;
    // Lengths are non-increasing along `order`: find the first pair that fits the width.
    size_t lo = job->head, hi = job->order.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (job->length_at(mid) > batch.seq_len) lo = mid + 1; else hi = mid;
    }
    for (size_t k = lo; k < job->order.size() && batch.rows.size() < row_budget; ++k) {
      if (!job->taken[k]) Take(*job, k, batch);
    }
  }
  return batch;
}

}  // namespace tce::engine
