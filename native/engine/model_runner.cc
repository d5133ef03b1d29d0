#include "engine/model_runner.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "addon/thread_pool.h"
#include "engine/batch_plan.h"
#include "tokenizer/padded_batch.h"

namespace tce::engine {

struct ModelRunner::State {
  State(const CoreApi& core_api, std::shared_ptr<const tok::Tokenizer> tok, ModelConfig cfg)
      : core(core_api), tokenizer(std::move(tok)), config(std::move(cfg)) {}

  const CoreApi& core;
  const std::shared_ptr<const tok::Tokenizer> tokenizer;
  const ModelConfig config;

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> tasks;
  bool stopping = false;
  bool disposed = false;

  tce_model* model = nullptr;  // touched only on the executor thread

  // Test hook: TCE_FAULT_OOM_ABOVE_TOKENS=N makes every forward of more than N padded tokens
  // report device out-of-memory, so that the split-and-retry path is testable without a GPU.
  const size_t fault_oom_above_tokens = [] {
    const char* value = std::getenv("TCE_FAULT_OOM_ABOVE_TOKENS");
    return value == nullptr ? size_t{0} : static_cast<size_t>(std::strtoull(value, nullptr, 10));
  }();
};

namespace {

constexpr size_t kErrorLength = 4096;

// Runs one padded batch, halving it on device out-of-memory until a single pair fails.
// Returns "" on success or the error text.
std::string Forward(const CoreApi& core, tce_model* model, const PredictOptions& options,
                    const int64_t* ids, const int64_t* mask, const int64_t* types, size_t rows,
                    size_t seq_len, size_t num_labels, float* out, size_t fault_limit) {
  char err[kErrorLength] = {0};
  int64_t labels = 0;
  int status;
  if (fault_limit != 0 && rows * seq_len > fault_limit) {
    std::snprintf(err, sizeof err, "simulated out of memory (TCE_FAULT_OOM_ABOVE_TOKENS=%zu)", fault_limit);
    status = TCE_OUT_OF_MEMORY;
  } else {
    status = core.model_forward(model, ids, mask, types, static_cast<int64_t>(rows),
                                static_cast<int64_t>(seq_len), options.activation,
                                options.apply_softmax ? 1 : 0, out,
                                static_cast<int64_t>(rows * num_labels), &labels, err, sizeof err);
  }
  if (status == TCE_OK) {
    if (static_cast<size_t>(labels) != num_labels) {
      return "model.pt returned " + std::to_string(labels) + " label(s) per pair, but config.json declares " +
             std::to_string(num_labels) + "; fix num_labels/id2label in config.json or re-export the model";
    }
    return "";
  }
  if (status == TCE_OUT_OF_MEMORY && rows > 1) {
    const size_t half = rows / 2;
    const size_t offset = half * seq_len;
    std::string first = Forward(core, model, options, ids, mask, types, half, seq_len,
                                num_labels, out, fault_limit);
    if (!first.empty()) return first;
    return Forward(core, model, options, ids + offset, mask + offset, types + offset, rows - half,
                   seq_len, num_labels, out + half * num_labels, fault_limit);
  }
  if (status == TCE_OUT_OF_MEMORY) {
    return "out of memory on a single pair of " + std::to_string(seq_len) +
           " tokens; lower maxLength or free device memory. (" + err + ")";
  }
  return err;
}

}  // namespace

ModelRunner::ModelRunner(const CoreApi& core, std::shared_ptr<const tok::Tokenizer> tokenizer,
                         ModelConfig config)
    : state_(std::make_shared<State>(core, std::move(tokenizer), std::move(config))) {
  // The thread owns a reference to the state, so it may outlive this object: a finalizer on the
  // JS thread never waits for a forward to end.
  std::thread(ExecutorLoop, state_).detach();
}

ModelRunner::~ModelRunner() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
}

void ModelRunner::ExecutorLoop(std::shared_ptr<State> state) {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(state->mutex);
      state->wake.wait(lock, [&] { return state->stopping || !state->tasks.empty(); });
      if (state->tasks.empty()) break;
      task = std::move(state->tasks.front());
      state->tasks.pop_front();
    }
    task();
  }
  if (state->model != nullptr) {
    state->core.model_free(state->model);
    state->model = nullptr;
  }
}

void ModelRunner::Load(std::function<void(std::string error)> done) {
  auto state = state_;
  std::lock_guard<std::mutex> lock(state->mutex);
  state->tasks.emplace_back([state, done = std::move(done)] {
    char err[kErrorLength] = {0};
    state->model = state->core.model_load(state->config.path.c_str(), state->config.device.c_str(),
                                          state->config.precision, err, sizeof err);
    done(state->model == nullptr ? std::string(err[0] ? err : "unknown error") : std::string());
  });
  state->wake.notify_all();
}

void ModelRunner::Submit(std::shared_ptr<PredictJob> job) {
  auto state = state_;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (!state->disposed) {
      state->tasks.emplace_back([state, job] {
        bool disposed;
        {
          std::lock_guard<std::mutex> inner(state->mutex);
          disposed = state->disposed;
        }
        if (disposed) {
          job->callbacks.failed("The model was disposed before this call ran.", "TCE_DISPOSED");
        } else {
          RunJob(*state, *job);
        }
      });
      state->wake.notify_all();
      return;
    }
  }
  job->callbacks.failed("The model is disposed.", "TCE_DISPOSED");
}

void ModelRunner::Dispose(std::function<void()> done) {
  auto state = state_;
  std::lock_guard<std::mutex> lock(state->mutex);
  state->disposed = true;
  state->tasks.emplace_back([state, done = std::move(done)] {
    if (state->model != nullptr) {
      state->core.model_free(state->model);
      state->model = nullptr;
    }
    done();
  });
  state->wake.notify_all();
}

void ModelRunner::RunJob(State& state, PredictJob& job) {
  const size_t n = job.a.size();
  const size_t num_labels = state.config.num_labels;
  if (state.model == nullptr) {
    job.callbacks.failed("The model is not loaded.", "TCE_FORWARD_FAILED");
    return;
  }
  if (job.cancelled.load()) {
    job.callbacks.failed("The operation was aborted", "ABORT_ERR");
    return;
  }

  std::vector<tok::Encoding> encodings(n);
  try {
    ThreadPool::Shared().ParallelFor(n, 8, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        const std::string_view b = job.b[i];
        encodings[i] = state.tokenizer->Encode(job.a[i], &b, state.config.max_length, true, false);
      }
    });
  } catch (const std::exception& e) {
    job.callbacks.failed(std::string("Tokenization failed: ") + e.what(), "TCE_FORWARD_FAILED");
    return;
  }

  std::vector<size_t> lengths(n);
  for (size_t i = 0; i < n; ++i) lengths[i] = encodings[i].ids.size();
  const BatchPlan plan =
      PlanBatches(lengths, job.options.batch_size, job.options.max_batch_tokens);

  std::vector<float> scores(n * num_labels);
  std::vector<float> batch_scores;
  std::vector<const tok::Encoding*> rows;
  tok::PaddedBatch padded;
  size_t done = 0;
  for (const BatchSlice& slice : plan.batches) {
    if (job.cancelled.load()) {
      job.callbacks.failed("The operation was aborted", "ABORT_ERR");
      return;
    }
    rows.clear();
    for (size_t k = slice.begin; k < slice.end; ++k) rows.push_back(&encodings[plan.order[k]]);
    tok::FillPaddedBatch(rows.data(), rows.size(), state.tokenizer->pad_id(), padded);
    batch_scores.assign(rows.size() * num_labels, 0.0f);
    std::string error = Forward(state.core, state.model, job.options, padded.input_ids.data(),
                                padded.attention_mask.data(), padded.token_type_ids.data(),
                                padded.rows, padded.seq_len, num_labels, batch_scores.data(),
                                state.fault_oom_above_tokens);
    if (!error.empty()) {
      job.callbacks.failed(error, "TCE_FORWARD_FAILED");
      return;
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      const size_t input = plan.order[slice.begin + r];
      std::copy_n(batch_scores.data() + r * num_labels, num_labels,
                  scores.data() + input * num_labels);
    }
    done += rows.size();
    if (job.callbacks.progress) job.callbacks.progress(done, n);
  }
  job.callbacks.done(std::move(scores), num_labels);
}

}  // namespace tce::engine
