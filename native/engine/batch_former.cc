#include "engine/batch_former.h"

#include <algorithm>

namespace tce::engine {

namespace {

// Rows a job allows in a forward padded to `seq_len` tokens: its row cap and its token budget.
// At least one, so that a pair longer than the budget still runs (alone).
size_t RowCap(const PredictOptions& options, size_t seq_len) {
  return std::min(std::max<size_t>(1, options.batch_size),
                  std::max<size_t>(1, options.max_batch_tokens / seq_len));
}

}  // namespace

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
  // The anchor's longest remaining pair fixes the padded width of the batch.
  batch.seq_len = std::max<size_t>(1, anchor->length_at(anchor->head));
  // Every job in the batch has its own budgets (per-call batchSize / maxBatchTokens): the batch
  // keeps within the smallest of them, so a call's pairs never run in a larger forward than the
  // call allows.
  size_t row_budget = RowCap(options, batch.seq_len);

  while (batch.rows.size() < row_budget && anchor->head < anchor->order.size()) {
    Take(*anchor, anchor->head, batch);
  }
  if (!share_) return batch;

  for (PredictJob* job : jobs) {
    if (batch.rows.size() >= row_budget) break;
    if (job == anchor || job->remaining() == 0 || !job->options.CompatibleWith(options)) continue;
    // Joining must keep the batch within this job's budgets too, rows already taken included.
    const size_t cap = RowCap(job->options, batch.seq_len);
    if (cap <= batch.rows.size()) continue;
    // Lengths are non-increasing along `order`: find the first pair that fits the width.
    size_t lo = job->head, hi = job->order.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (job->length_at(mid) > batch.seq_len) lo = mid + 1; else hi = mid;
    }
    while (lo < job->order.size() && job->taken[lo]) ++lo;
    if (lo == job->order.size()) continue;  // nothing of this job fits: its budget does not bind
    row_budget = std::min(row_budget, cap);
    for (size_t k = lo; k < job->order.size() && batch.rows.size() < row_budget; ++k) {
      if (!job->taken[k]) Take(*job, k, batch);
    }
  }
  return batch;
}

}  // namespace tce::engine
