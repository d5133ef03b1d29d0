// Chooses the pairs of the next forward from every pending job of a model.
//
// Batches are cut by a token budget (padded tokens count) and a row cap. Each job's pairs are
// taken longest first, so rows of a batch have similar lengths and little padding is computed.
// The job that anchors a batch rotates round-robin among pending jobs, so a large call cannot
// starve small ones; other compatible jobs then fill the room the anchor leaves, with pairs no
// longer than the batch is already padded to. A job joins only if the batch, with the rows it
// already has, stays within that job's own row cap and token budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/predict_job.h"

namespace tce::engine {

struct BatchRow {
  PredictJob* job;
  uint32_t index;  // input index within the job
};

struct FormedBatch {
  std::vector<BatchRow> rows;
  size_t seq_len = 0;
  const PredictOptions* options = nullptr;  // the anchor's
};

class BatchFormer {
 public:
  explicit BatchFormer(bool share_batches) : share_(share_batches) {}

  // `jobs` are the pending jobs in arrival order, each with remaining() > 0.
  FormedBatch Next(const std::vector<PredictJob*>& jobs);

 private:
  static void Take(PredictJob& job, size_t k, FormedBatch& batch);
  bool share_;
  uint64_t last_anchor_arrival_ = 0;
};

}  // namespace tce::engine
