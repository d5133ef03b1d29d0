#include "engine/model_runner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <numeric>
#include <string_view>
#include <thread>

#include "addon/thread_pool.h"
#include "engine/batch_former.h"
#include "tokenizer/padded_batch.h"

namespace tce::engine {

namespace {

using Clock = std::chrono::steady_clock;
using JobPtr = std::shared_ptr<PredictJob>;
constexpr size_t kErrorLength = 4096;
constexpr const char* kDisposedBeforeRun = "The model was disposed before this call ran.";

void Fail(PredictJob& job, const std::string& message, const std::string& code) {
  if (job.settled) return;
  job.settled = true;
  job.callbacks.failed(message, code);
}

}  // namespace

struct ModelRunner::State {
  State(const CoreApi& core_api, std::shared_ptr<const tok::Tokenizer> tok, ModelConfig cfg)
      : core(core_api), tokenizer(std::move(tok)), config(std::move(cfg)), former(config.share_batches) {}

  const CoreApi& core;
  const std::shared_ptr<const tok::Tokenizer> tokenizer;
  const ModelConfig config;

  // Test hook: TCE_FAULT_OOM_ABOVE_TOKENS=N makes every forward of more than N padded tokens
  // report device out-of-memory, so that the split-and-retry path is testable without a GPU.
  // Read here, on the JS thread, never concurrently with process.env writes.
  const size_t fault_oom_above_tokens = [] {
    const char* value = std::getenv("TCE_FAULT_OOM_ABOVE_TOKENS");
    return value == nullptr ? size_t{0} : static_cast<size_t>(std::strtoull(value, nullptr, 10));
  }();

  std::mutex mutex;
  std::condition_variable tokenizer_wake;
  std::condition_variable executor_wake;
  std::deque<JobPtr> submitted;                 // waiting to be tokenized
  std::deque<JobPtr> tokenized;                 // waiting for the executor to take them
  std::deque<std::function<void()>> control;    // load, on the executor
  std::vector<std::function<void()>> dispose_done;  // Dispose() callbacks still waiting
  bool disposed = false;
  bool dispose_aborts = false;                  // dispose({ abort: true }): running calls stop too
  bool released = false;                        // the model is freed: Dispose() answers at once
  bool stopping = false;                        // the owner is gone
  std::atomic<bool> abandoned{false};           // the owner's environment is gone
  bool tokenizer_exited = false;
  uint64_t next_arrival = 1;

  ModelStats stats;  // guarded by `mutex`

  // Executor thread only.
  tce_model* model = nullptr;
  std::vector<JobPtr> active;  // in arrival order
  BatchFormer former;
  tok::PaddedBatch padded;
  std::vector<float> batch_scores;

  static void TokenizerLoop(std::shared_ptr<State> state);
  static void ExecutorLoop(std::shared_ptr<State> state);
  void Tokenize(PredictJob& job);
  void RunBatch(const FormedBatch& batch);
  std::string Forward(const PredictOptions& options, const std::vector<BatchRow>& rows,
                      size_t begin, size_t end, float* out);
  void Scatter(const std::vector<BatchRow>& rows, const float* scores);
  // Frees the model (executor thread) and runs Dispose()'s callback if one is waiting.
  void ReleaseModel();
};

void ModelRunner::State::Tokenize(PredictJob& job) {
  const size_t n = job.size();
  job.encodings.resize(n);
  ThreadPool::Shared().ParallelFor(n, 8, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const std::string_view b = job.b[i];
      job.encodings[i] = tokenizer->Encode(job.a[i], &b, config.max_length, true);
    }
  });
  std::vector<std::string>().swap(job.a);
  std::vector<std::string>().swap(job.b);
  job.lengths.resize(n);
  for (size_t i = 0; i < n; ++i) job.lengths[i] = static_cast<uint32_t>(job.encodings[i].ids.size());
  job.order.resize(n);
  std::iota(job.order.begin(), job.order.end(), 0u);
  // Longest first: a job's first batch is its largest, so running out of memory shows up early.
  std::stable_sort(job.order.begin(), job.order.end(), [&](uint32_t x, uint32_t y) {
    return job.lengths[x] > job.lengths[y];
  });
  job.taken.assign(n, 0);
  job.scores.assign(n * config.num_labels, 0.0f);
}

void ModelRunner::State::TokenizerLoop(std::shared_ptr<State> state) {
  State& s = *state;
  for (;;) {
    JobPtr job;
    bool disposed;
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      s.tokenizer_wake.wait(lock, [&] { return s.stopping || s.disposed || !s.submitted.empty(); });
      if (s.submitted.empty()) break;  // stopping or disposed, and drained
      job = std::move(s.submitted.front());
      s.submitted.pop_front();
      disposed = s.disposed;
    }
    if (disposed || s.abandoned.load()) {
      Fail(*job, kDisposedBeforeRun, "TCE_DISPOSED");
      continue;
    }
    // Only tokenized jobs reach the executor: it relies on their encodings and order.
    if (job->cancelled.load()) {
      Fail(*job, "The operation was aborted", "ABORT_ERR");
      continue;
    }
    try {
      s.Tokenize(*job);
    } catch (const std::exception& e) {
      Fail(*job, std::string("Tokenization failed: ") + e.what(), "TCE_FORWARD_FAILED");
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.tokenized.push_back(std::move(job));
    }
    s.executor_wake.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.tokenizer_exited = true;
  }
  s.executor_wake.notify_all();
}

std::string ModelRunner::State::Forward(const PredictOptions& options,
                                        const std::vector<BatchRow>& rows, size_t begin,
                                        size_t end, float* out) {
  const size_t count = end - begin;
  std::vector<const tok::Encoding*> encodings(count);
  for (size_t r = 0; r < count; ++r) {
    encodings[r] = &rows[begin + r].job->encodings[rows[begin + r].index];
  }
  tok::FillPaddedBatch(encodings.data(), count, tokenizer->pad_id(), padded);

  char err[kErrorLength] = {0};
  int64_t labels = 0;
  int status;
  const auto started = Clock::now();
  if (fault_oom_above_tokens != 0 && padded.rows * padded.seq_len > fault_oom_above_tokens) {
    std::snprintf(err, sizeof err, "simulated out of memory (TCE_FAULT_OOM_ABOVE_TOKENS=%zu)",
                  fault_oom_above_tokens);
    status = TCE_OUT_OF_MEMORY;
  } else {
    CoreCall guard;
    if (!guard) ParkUntilExit();
    status = core.model_forward(model, padded.input_ids.data(), padded.attention_mask.data(),
                                padded.token_type_ids.data(), static_cast<int64_t>(padded.rows),
                                static_cast<int64_t>(padded.seq_len), options.activation,
                                options.apply_softmax ? 1 : 0, out,
                                static_cast<int64_t>(count * config.num_labels), &labels, err,
                                sizeof err);
  }
  if (status == TCE_OK) {
    ArmExitGateAfterFirstForward();
    // A forward whose output has the wrong shape scored nothing: it is an error, not a forward
    // for the counters.
    if (static_cast<size_t>(labels) != config.num_labels) {
      return "model.pt returned " + std::to_string(labels) +
             " label(s) per pair, but config.json declares " + std::to_string(config.num_labels) +
             "; fix num_labels/id2label in config.json or re-export the model";
    }
    size_t real_tokens = 0;
    for (size_t r = 0; r < count; ++r) real_tokens += encodings[r]->ids.size();
    const double elapsed =
        std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    {
      std::lock_guard<std::mutex> lock(mutex);
      stats.forwards += 1;
      stats.pairs += count;
      stats.tokens += real_tokens;
      stats.padded_tokens += padded.rows * padded.seq_len;
      stats.forward_ms += elapsed;
      for (size_t r = begin + 1; r < end; ++r) {
        if (rows[r].job != rows[begin].job) {
          stats.shared_forwards += 1;
          break;
        }
      }
    }
    return "";
  }
  if (status == TCE_OUT_OF_MEMORY && count > 1) {
    // Halve and retry: rows are sorted longest first, so each half is padded no wider.
    const size_t half = count / 2;
    std::string error = Forward(options, rows, begin, begin + half, out);
    if (!error.empty()) return error;
    return Forward(options, rows, begin + half, end, out + half * config.num_labels);
  }
  if (status == TCE_OUT_OF_MEMORY) {
    return "out of memory on a single pair of " + std::to_string(padded.seq_len) +
           " tokens; lower maxLength or free device memory. (" + err + ")";
  }
  return err;
}

void ModelRunner::State::Scatter(const std::vector<BatchRow>& rows, const float* scores) {
  const size_t labels = config.num_labels;
  std::map<PredictJob*, size_t> scored;  // a batch holds few jobs
  for (size_t r = 0; r < rows.size(); ++r) {
    PredictJob* job = rows[r].job;
    ++scored[job];
    job->encodings[rows[r].index] = tok::Encoding{};  // scored: its ids are not needed again
    std::copy_n(scores + r * labels, labels, job->scores.data() + size_t{rows[r].index} * labels);
  }
  for (auto& [job, count] : scored) {
    job->done += count;
    if (job->settled) continue;
    if (job->callbacks.progress) job->callbacks.progress(job->done, job->size());
    if (job->done == job->size()) {
      job->settled = true;
      job->callbacks.done(std::move(job->scores), labels);
    }
  }
}

void ModelRunner::State::RunBatch(const FormedBatch& batch) {
  const auto& rows = batch.rows;
  batch_scores.assign(rows.size() * config.num_labels, 0.0f);
  std::string error = Forward(*batch.options, rows, 0, rows.size(), batch_scores.data());
  if (error.empty()) {
    Scatter(rows, batch_scores.data());
    return;
  }
  // Isolate the failure: rerun each job's rows on their own, so that one call's failure (one
  // pair too large for memory, say) does not fail the calls it shared the batch with.
  std::vector<PredictJob*> jobs;
  for (const auto& row : rows) {
    if (std::find(jobs.begin(), jobs.end(), row.job) == jobs.end()) jobs.push_back(row.job);
  }
  if (jobs.size() == 1) {
    Fail(*jobs[0], error, "TCE_FORWARD_FAILED");
    return;
  }
  for (PredictJob* job : jobs) {
    std::vector<BatchRow> own;
    for (const auto& row : rows) {
      if (row.job == job) own.push_back(row);
    }
    std::vector<float> own_scores(own.size() * config.num_labels);
    std::string own_error = Forward(job->options, own, 0, own.size(), own_scores.data());
    if (own_error.empty()) {
      Scatter(own, own_scores.data());
    } else {
      Fail(*job, own_error, "TCE_FORWARD_FAILED");
    }
  }
}

void ModelRunner::State::ExecutorLoop(std::shared_ptr<State> state) {
  State& s = *state;
  bool dispose_handled = false;
  auto has_pending = [&] {
    for (const auto& job : s.active) {
      if (!job->settled && job->remaining() > 0) return true;
    }
    return false;
  };
  // Called with the mutex held.
  auto can_exit = [&] {
    return (s.stopping || s.disposed) && s.tokenizer_exited && s.tokenized.empty() &&
           s.control.empty() && !has_pending();
  };
  auto absorb_tokenized = [&] {
    while (!s.tokenized.empty()) {
      JobPtr job = std::move(s.tokenized.front());
      s.tokenized.pop_front();
      job->arrival = s.next_arrival++;
      s.active.push_back(std::move(job));
    }
  };

  for (;;) {
    std::function<void()> control;
    bool disposing = false;
    bool aborting = false;
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      s.executor_wake.wait(lock, [&] {
        return !s.control.empty() || !s.tokenized.empty() || has_pending() ||
               (s.disposed && !dispose_handled) || can_exit();
      });
      if (!s.control.empty()) {
        control = std::move(s.control.front());
        s.control.pop_front();
      } else {
        absorb_tokenized();
        if (can_exit()) break;
        // A call that just arrived with fewer pairs than fill a forward waits briefly for other
        // callers, so that they share it. Calls already running never wait again.
        size_t pending = 0, capacity = 0;
        bool fresh = false;
        for (const auto& job : s.active) {
          if (job->settled || job->remaining() == 0 || job->cancelled.load()) continue;
          pending += job->remaining();
          fresh = fresh || job->scheduled == 0;
          const size_t longest = std::max<size_t>(1, job->length_at(job->head));
          capacity = std::max(capacity, std::min(job->options.batch_size,
                                                 std::max<size_t>(1, job->options.max_batch_tokens / longest)));
        }
        if (s.config.max_wait_ms > 0 && !s.disposed && fresh && pending < capacity) {
          const auto deadline = Clock::now() + std::chrono::microseconds(
                                                   static_cast<int64_t>(s.config.max_wait_ms * 1000));
          s.executor_wake.wait_until(lock, deadline, [&] {
            return !s.tokenized.empty() || s.disposed ||
                   std::any_of(s.active.begin(), s.active.end(),
                               [](const JobPtr& job) { return job->cancelled.load(); });
          });
          absorb_tokenized();
        }
        disposing = s.disposed;
        aborting = s.dispose_aborts;
      }
    }
    if (control) {
      control();
      continue;
    }

    // Settle calls that were aborted, and on dispose those that have not started.
    std::vector<PredictJob*> pending;
    for (const auto& job : s.active) {
      if (job->settled) continue;
      if (job->cancelled.load() || s.abandoned.load()) {
        Fail(*job, "The operation was aborted", "ABORT_ERR");
      } else if (disposing && job->scheduled == 0) {
        Fail(*job, kDisposedBeforeRun, "TCE_DISPOSED");
      } else if (aborting) {
        // dispose({ abort: true }): the forward that was running has finished; stop here.
        Fail(*job, "The model was disposed with { abort: true } before this call finished.",
             "TCE_DISPOSED");
      } else if (s.model == nullptr) {
        Fail(*job, "The model is not loaded.", "TCE_FORWARD_FAILED");
      } else if (job->remaining() > 0) {
        pending.push_back(job.get());
      }
    }
    if (!pending.empty()) s.RunBatch(s.former.Next(pending));
    s.active.erase(std::remove_if(s.active.begin(), s.active.end(),
                                  [](const JobPtr& job) { return job->settled; }),
                   s.active.end());

    if (disposing && !dispose_handled && !has_pending()) {
      // Calls that had started have finished: free the model, then tell the caller.
      dispose_handled = true;
      s.ReleaseModel();
    }
  }
  // The owner is gone or the model is disposed, and nothing is left to run.
  s.ReleaseModel();
}

void ModelRunner::State::ReleaseModel() {
  if (model != nullptr) {
    CoreCall guard;
    if (!guard) ParkUntilExit();
    core.model_free(model);
    model = nullptr;
  }
  std::vector<std::function<void()>> done;
  {
    std::lock_guard<std::mutex> lock(mutex);
    done.swap(dispose_done);
    released = true;
  }
  for (auto& callback : done) callback();
}

ModelRunner::ModelRunner(const CoreApi& core, std::shared_ptr<const tok::Tokenizer> tokenizer,
                         ModelConfig config)
    : state_(std::make_shared<State>(core, std::move(tokenizer), std::move(config))) {
  // The threads own references to the state, so they may outlive this object: a finalizer on
  // the JS thread never waits for a forward to end.
  std::thread(State::TokenizerLoop, state_).detach();
  std::thread(State::ExecutorLoop, state_).detach();
}

ModelRunner::~ModelRunner() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->tokenizer_wake.notify_all();
  state_->executor_wake.notify_all();
}

void ModelRunner::Load(std::function<void(std::string error)> done) {
  auto state = state_;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->control.emplace_back([state, done = std::move(done)] {
      if (state->model != nullptr) {
        done("The model is already loaded.");
        return;
      }
      CoreCall guard;
      if (!guard) ParkUntilExit();
      // libtorch's OpenMP thread count is per calling thread: set it on the thread that will run
      // every forward of this model.
      if (state->config.cpu_threads > 0) state->core.set_num_threads(state->config.cpu_threads);
      char err[kErrorLength] = {0};
      state->model = state->core.model_load(state->config.path.c_str(), state->config.device.c_str(),
                                            state->config.precision, err, sizeof err);
      done(state->model == nullptr ? std::string(err[0] ? err : "unknown error") : std::string());
    });
  }
  state->executor_wake.notify_all();
}

void ModelRunner::Submit(std::shared_ptr<PredictJob> job) {
  job->count = job->a.size();
  if (job->size() == 0) {
    job->settled = true;
    job->callbacks.done({}, state_->config.num_labels);
    return;
  }
  std::weak_ptr<State> weak = state_;
  job->wake = [weak] {
    if (auto state = weak.lock()) state->executor_wake.notify_all();
  };
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->disposed) {
      state_->submitted.push_back(std::move(job));
      state_->tokenizer_wake.notify_all();
      return;
    }
  }
  Fail(*job, "The model is disposed.", "TCE_DISPOSED");
}

void ModelRunner::Abandon() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->abandoned.store(true);
    state_->stopping = true;
  }
  state_->tokenizer_wake.notify_all();
  state_->executor_wake.notify_all();
}

void ModelRunner::Cancel(PredictJob& job) {
  job.cancelled.store(true);
  if (job.wake) job.wake();
}

ModelStats ModelRunner::Stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stats;
}

void ModelRunner::Dispose(bool abort, std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->disposed = true;
    // A later dispose({ abort: true }) can still cut short an earlier plain dispose().
    state_->dispose_aborts = state_->dispose_aborts || abort;
    if (!state_->released) {
      state_->dispose_done.push_back(std::move(done));
      done = nullptr;
    }
  }
  if (done) {
    done();
    return;
  }
  state_->tokenizer_wake.notify_all();
  state_->executor_wake.notify_all();
}

}  // namespace tce::engine
