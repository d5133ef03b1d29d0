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
#include "engine/rendered_input.h"
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

double MsSince(Clock::time_point started) {
  return std::chrono::duration<double, std::milli>(Clock::now() - started).count();
}

// Where the simulated out-of-memory of TCE_FAULT_OOM_ABOVE_TOKENS surfaces: at submit, as
// libtorch's allocator reports it, or at collect, as an error of work already launched would.
enum class FaultPoint { kSubmit, kCollect };

// One try at a forward: the core's status and error text, and the time the call took.
struct Attempt {
  int status = TCE_OK;
  std::string error;
  double ms = 0;
  bool ok() const { return status == TCE_OK; }
};

}  // namespace

// A batch between its launch and the scattering of its scores.
struct InFlight {
  int slot = 0;
  FormedBatch batch;
  // The batch's calls, kept alive while their rows are in flight: a call that settles early
  // (aborted, failed) leaves the active list but its rows still point at it.
  std::vector<JobPtr> jobs;
  Attempt launch;           // how the submit went: a failed one is retried when collected
  bool overlapped = false;  // launched while the batch before it was in flight
};

struct ModelRunner::State {
  State(const CoreApi& core_api, std::shared_ptr<const tok::Tokenizer> tok, ModelConfig cfg)
      : core(core_api), tokenizer(std::move(tok)), config(std::move(cfg)), former(config.share_batches) {}

  const CoreApi& core;
  const std::shared_ptr<const tok::Tokenizer> tokenizer;
  const ModelConfig config;

  // Test hook: TCE_FAULT_OOM_ABOVE_TOKENS=N makes every forward of more than N padded tokens
  // report device out-of-memory, so that the split-and-retry path is testable without a GPU.
  // Read here, on the JS thread, never concurrently with process.env writes.
  // TCE_FAULT_OOM_AT=collect makes it surface when the scores are collected instead of at submit.
  const size_t fault_oom_above_tokens = [] {
    const char* value = std::getenv("TCE_FAULT_OOM_ABOVE_TOKENS");
    return value == nullptr ? size_t{0} : static_cast<size_t>(std::strtoull(value, nullptr, 10));
  }();
  const FaultPoint fault_point = [] {
    const char* value = std::getenv("TCE_FAULT_OOM_AT");
    return value != nullptr && std::string_view(value) == "collect" ? FaultPoint::kCollect
                                                                    : FaultPoint::kSubmit;
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
  bool tf32_claimed = true;  // config.tf32's claim, taken by the creator (ModelConfig::tf32)
  std::vector<JobPtr> active;  // in arrival order
  BatchFormer former;
  // One padded buffer per slot: the core reads a batch's inputs until it is collected.
  tok::PaddedBatch padded[TCE_SLOTS];
  std::deque<InFlight> in_flight;  // oldest first, at most TCE_SLOTS
  std::vector<float> batch_scores;

  static void TokenizerLoop(std::shared_ptr<State> state);
  static void ExecutorLoop(std::shared_ptr<State> state);
  void Tokenize(PredictJob& job);
  // Executor loop steps.
  void WaitForCompany(std::unique_lock<std::mutex>& lock);
  std::vector<PredictJob*> SettleStopped(bool disposing, bool aborting);
  void StartNext(const std::vector<PredictJob*>& pending);
  void FinishOldest();
  // A batch's way through the core.
  int FreeSlot() const;
  std::vector<JobPtr> JobsOf(const std::vector<BatchRow>& rows) const;
  tok::PaddedBatch& Pad(int slot, const std::vector<BatchRow>& rows, size_t begin, size_t end);
  bool SimulatedOom(int slot, FaultPoint point) const;
  Attempt Launch(int slot, const PredictOptions& options, const std::vector<BatchRow>& rows,
                 size_t begin, size_t end);
  Attempt Land(int slot, const std::vector<BatchRow>& rows, size_t begin, size_t end, float* out,
               double launch_ms, bool overlapped);
  void Discard(int slot);
  void Count(int slot, const std::vector<BatchRow>& rows, size_t begin, size_t end, double ms,
             double wait_ms, bool overlapped);
  void Finish(InFlight& flight);
  std::string ForwardNow(int slot, const PredictOptions& options,
                         const std::vector<BatchRow>& rows, size_t begin, size_t end, float* out);
  std::string Recover(int slot, const PredictOptions& options, const std::vector<BatchRow>& rows,
                      size_t begin, size_t end, float* out, const Attempt& failed);
  void Isolate(int slot, const std::vector<BatchRow>& rows, const std::string& error);
  void Scatter(const std::vector<BatchRow>& rows, const float* scores);
  // Gives back the TF32 claim once (executor thread).
  void ReleaseTf32Claim();
  // Frees the model (executor thread) and runs Dispose()'s callback if one is waiting.
  void ReleaseModel();
};

void ModelRunner::State::Tokenize(PredictJob& job) {
  const size_t n = job.size();
  job.encodings.resize(n);
  ThreadPool::Shared().ParallelFor(n, 8, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      if (job.rendered) {
        job.encodings[i] = EncodeRendered(*tokenizer, job.a[i], config.max_length, job.restore_suffix);
        continue;
      }
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
    } catch (const tok::TokenizerFileError& e) {
      // The tokenizer file lacks a token this text needs (a BPE unk_token missing from its vocabulary).
      Fail(*job, e.what(), "TCE_TOKENIZER_FILE");
      continue;
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

int ModelRunner::State::FreeSlot() const {
  for (int slot = 0; slot < TCE_SLOTS; ++slot) {
    if (std::none_of(in_flight.begin(), in_flight.end(),
                     [&](const InFlight& flight) { return flight.slot == slot; })) {
      return slot;
    }
  }
  return -1;  // unreachable: StartNext runs only with a slot free
}

std::vector<JobPtr> ModelRunner::State::JobsOf(const std::vector<BatchRow>& rows) const {
  std::vector<PredictJob*> distinct;  // a batch holds few calls, each call's rows together
  for (const auto& row : rows) {
    if (std::find(distinct.begin(), distinct.end(), row.job) == distinct.end()) distinct.push_back(row.job);
  }
  std::vector<JobPtr> jobs;
  for (const auto& job : active) {
    if (std::find(distinct.begin(), distinct.end(), job.get()) != distinct.end()) jobs.push_back(job);
  }
  return jobs;
}

tok::PaddedBatch& ModelRunner::State::Pad(int slot, const std::vector<BatchRow>& rows, size_t begin,
                                          size_t end) {
  std::vector<const tok::Encoding*> encodings(end - begin);
  for (size_t r = begin; r < end; ++r) encodings[r - begin] = &rows[r].job->encodings[rows[r].index];
  tok::PaddedBatch& batch = padded[slot];
  tok::FillPaddedBatch(encodings.data(), encodings.size(), tokenizer->pad_id(), batch);
  return batch;
}

bool ModelRunner::State::SimulatedOom(int slot, FaultPoint point) const {
  return fault_oom_above_tokens != 0 && fault_point == point &&
         padded[slot].rows * padded[slot].seq_len > fault_oom_above_tokens;
}

Attempt ModelRunner::State::Launch(int slot, const PredictOptions& options,
                                   const std::vector<BatchRow>& rows, size_t begin, size_t end) {
  const tok::PaddedBatch& batch = Pad(slot, rows, begin, end);
  char err[kErrorLength] = {0};
  if (SimulatedOom(slot, FaultPoint::kSubmit)) {
    std::snprintf(err, sizeof err, "simulated out of memory (TCE_FAULT_OOM_ABOVE_TOKENS=%zu)",
                  fault_oom_above_tokens);
    return {TCE_OUT_OF_MEMORY, err, 0};
  }
  const auto started = Clock::now();
  int status;
  {
    CoreCall guard;
    if (!guard) ParkUntilExit();
    status = core.model_submit(model, slot, batch.input_ids.data(), batch.attention_mask.data(),
                               batch.token_type_ids.data(), static_cast<int64_t>(batch.rows),
                               static_cast<int64_t>(batch.seq_len), options.activation,
                               options.apply_softmax ? 1 : 0, err, sizeof err);
  }
  return {status, status == TCE_OK ? std::string() : std::string(err), MsSince(started)};
}

Attempt ModelRunner::State::Land(int slot, const std::vector<BatchRow>& rows, size_t begin,
                                 size_t end, float* out, double launch_ms, bool overlapped) {
  char err[kErrorLength] = {0};
  if (SimulatedOom(slot, FaultPoint::kCollect)) {
    Discard(slot);
    std::snprintf(err, sizeof err,
                  "simulated out of memory at collect (TCE_FAULT_OOM_ABOVE_TOKENS=%zu)",
                  fault_oom_above_tokens);
    return {TCE_OUT_OF_MEMORY, err, 0};
  }
  int64_t labels = 0;
  const auto started = Clock::now();
  int status;
  {
    CoreCall guard;
    if (!guard) ParkUntilExit();
    status = core.model_collect(model, slot, out, static_cast<int64_t>((end - begin) * config.num_labels),
                                &labels, err, sizeof err);
  }
  const double wait_ms = MsSince(started);
  if (status != TCE_OK) return {status, err, wait_ms};
  ArmExitGateAfterFirstForward();
  // A forward whose output has the wrong shape scored nothing: it is an error, not a forward
  // for the counters.
  if (static_cast<size_t>(labels) != config.num_labels) {
    return {TCE_ERROR,
            "model.pt returned " + std::to_string(labels) +
                " label(s) per pair, but config.json declares " + std::to_string(config.num_labels) +
                "; fix num_labels/id2label in config.json or re-export the model",
            wait_ms};
  }
  Count(slot, rows, begin, end, launch_ms + wait_ms, wait_ms, overlapped);
  return {TCE_OK, "", wait_ms};
}

void ModelRunner::State::Discard(int slot) {
  CoreCall guard;
  if (!guard) ParkUntilExit();
  core.model_discard(model, slot);
}

void ModelRunner::State::Count(int slot, const std::vector<BatchRow>& rows, size_t begin,
                               size_t end, double ms, double wait_ms, bool overlapped) {
  size_t real_tokens = 0;
  bool shared = false;
  for (size_t r = begin; r < end; ++r) {
    real_tokens += rows[r].job->encodings[rows[r].index].ids.size();
    shared = shared || rows[r].job != rows[begin].job;
  }
  std::lock_guard<std::mutex> lock(mutex);
  stats.forwards += 1;
  stats.pairs += end - begin;
  stats.tokens += real_tokens;
  stats.padded_tokens += padded[slot].rows * padded[slot].seq_len;
  stats.shared_forwards += shared ? 1 : 0;
  stats.overlapped_forwards += overlapped ? 1 : 0;
  stats.forward_ms += ms;
  stats.wait_ms += wait_ms;
}

// Pads, submits and collects rows [begin, end) in `slot` at once; on failure, see Recover.
std::string ModelRunner::State::ForwardNow(int slot, const PredictOptions& options,
                                           const std::vector<BatchRow>& rows, size_t begin,
                                           size_t end, float* out) {
  Attempt attempt = Launch(slot, options, rows, begin, end);
  if (attempt.ok()) attempt = Land(slot, rows, begin, end, out, attempt.ms, false);
  return attempt.ok() ? std::string() : Recover(slot, options, rows, begin, end, out, attempt);
}

// After rows [begin, end) failed in `slot`: on out-of-memory, halves the rows and runs each half
// on its own (synchronously, in the same slot: the other slot's batch stays in flight). Returns
// "" once every row is scored into `out`, else the error.
std::string ModelRunner::State::Recover(int slot, const PredictOptions& options,
                                        const std::vector<BatchRow>& rows, size_t begin,
                                        size_t end, float* out, const Attempt& failed) {
  const size_t count = end - begin;
  if (failed.status == TCE_OUT_OF_MEMORY && count > 1) {
    // Rows are sorted longest first, so each half is padded no wider.
    const size_t half = count / 2;
    std::string error = ForwardNow(slot, options, rows, begin, begin + half, out);
    if (!error.empty()) return error;
    return ForwardNow(slot, options, rows, begin + half, end, out + half * config.num_labels);
  }
  if (failed.status == TCE_OUT_OF_MEMORY) {
    return "out of memory on a single pair of " + std::to_string(padded[slot].seq_len) +
           " tokens; lower maxLength or free device memory. (" + failed.error + ")";
  }
  return failed.error;
}

// Isolates a failure: reruns each call's rows on their own, so that one call's failure (one pair
// too large for memory, say) does not fail the calls it shared the batch with.
void ModelRunner::State::Isolate(int slot, const std::vector<BatchRow>& rows,
                                 const std::string& error) {
  std::vector<PredictJob*> jobs;
  for (const auto& row : rows) {
    if (std::find(jobs.begin(), jobs.end(), row.job) == jobs.end()) jobs.push_back(row.job);
  }
  if (jobs.size() == 1) {
    Fail(*jobs[0], error, "TCE_FORWARD_FAILED");
    return;
  }
  for (PredictJob* job : jobs) {
    if (job->settled) continue;  // aborted meanwhile: nobody wants its scores
    std::vector<BatchRow> own;
    for (const auto& row : rows) {
      if (row.job == job) own.push_back(row);
    }
    std::vector<float> own_scores(own.size() * config.num_labels);
    std::string own_error = ForwardNow(slot, job->options, own, 0, own.size(), own_scores.data());
    if (own_error.empty()) {
      Scatter(own, own_scores.data());
    } else {
      Fail(*job, own_error, "TCE_FORWARD_FAILED");
    }
  }
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

// Forms the next batch and launches it in a free slot.
void ModelRunner::State::StartNext(const std::vector<PredictJob*>& pending) {
  InFlight flight;
  flight.slot = FreeSlot();
  flight.overlapped = !in_flight.empty();
  flight.batch = former.Next(pending);
  flight.jobs = JobsOf(flight.batch.rows);
  flight.launch = Launch(flight.slot, *flight.batch.options, flight.batch.rows, 0, flight.batch.rows.size());
  in_flight.push_back(std::move(flight));
}

void ModelRunner::State::FinishOldest() {
  InFlight flight = std::move(in_flight.front());
  in_flight.pop_front();
  Finish(flight);
}

// Waits for a batch's scores and scatters them; a batch that failed, at submit or at collect, is
// split or isolated in its own slot.
void ModelRunner::State::Finish(InFlight& flight) {
  const auto& rows = flight.batch.rows;
  const bool wanted = std::any_of(flight.jobs.begin(), flight.jobs.end(),
                                  [](const JobPtr& job) { return !job->settled; });
  if (!wanted) {
    // Every call in it was aborted or failed meanwhile: drop its scores (on the CPU its forward
    // never runs).
    if (flight.launch.ok()) Discard(flight.slot);
    return;
  }
  batch_scores.assign(rows.size() * config.num_labels, 0.0f);
  Attempt attempt = flight.launch;
  if (attempt.ok()) {
    attempt = Land(flight.slot, rows, 0, rows.size(), batch_scores.data(), flight.launch.ms,
                   flight.overlapped);
  }
  const std::string error =
      attempt.ok() ? std::string()
                   : Recover(flight.slot, *flight.batch.options, rows, 0, rows.size(),
                             batch_scores.data(), attempt);
  if (error.empty()) {
    Scatter(rows, batch_scores.data());
  } else {
    Isolate(flight.slot, rows, error);
  }
}

// A call that just arrived with fewer pairs than fill a forward waits briefly for other callers,
// so that they share it. Calls already running never wait again. Called with the mutex held,
// when nothing is in flight.
void ModelRunner::State::WaitForCompany(std::unique_lock<std::mutex>& lock) {
  size_t pending = 0, capacity = 0;
  bool fresh = false;
  for (const auto& job : active) {
    if (job->settled || job->remaining() == 0 || job->cancelled.load()) continue;
    pending += job->remaining();
    fresh = fresh || job->scheduled == 0;
    const size_t longest = std::max<size_t>(1, job->length_at(job->head));
    capacity = std::max(capacity, std::min(job->options.batch_size,
                                           std::max<size_t>(1, job->options.max_batch_tokens / longest)));
  }
  if (config.max_wait_ms <= 0 || disposed || !fresh || pending >= capacity) return;
  const auto deadline =
      Clock::now() + std::chrono::microseconds(static_cast<int64_t>(config.max_wait_ms * 1000));
  executor_wake.wait_until(lock, deadline, [&] {
    return !tokenized.empty() || disposed ||
           std::any_of(active.begin(), active.end(),
                       [](const JobPtr& job) { return job->cancelled.load(); });
  });
}

// Settles calls that were aborted, and on dispose those that have not started; returns the calls
// with pairs still to schedule.
std::vector<PredictJob*> ModelRunner::State::SettleStopped(bool disposing, bool aborting) {
  std::vector<PredictJob*> pending;
  for (const auto& job : active) {
    if (job->settled) continue;
    if (job->cancelled.load() || abandoned.load()) {
      Fail(*job, "The operation was aborted", "ABORT_ERR");
    } else if (disposing && job->scheduled == 0) {
      Fail(*job, kDisposedBeforeRun, "TCE_DISPOSED");
    } else if (aborting) {
      // dispose({ abort: true }): the forward that was running has finished; stop here. A batch
      // launched behind it is waited for and its scores dropped (Finish).
      Fail(*job, "The model was disposed with { abort: true } before this call finished.",
           "TCE_DISPOSED");
    } else if (model == nullptr) {
      Fail(*job, "The model is not loaded.", "TCE_FORWARD_FAILED");
    } else if (job->remaining() > 0) {
      pending.push_back(job.get());
    }
  }
  return pending;
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
           s.control.empty() && !has_pending() && s.in_flight.empty();
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
      // With a batch in flight there is always work: collect it. Only an idle executor sleeps,
      // waits for company or runs a control task (load).
      const bool idle = s.in_flight.empty();
      if (idle) {
        s.executor_wake.wait(lock, [&] {
          return !s.control.empty() || !s.tokenized.empty() || has_pending() ||
                 (s.disposed && !dispose_handled) || can_exit();
        });
      }
      if (idle && !s.control.empty()) {
        control = std::move(s.control.front());
        s.control.pop_front();
      } else {
        absorb_tokenized();
        if (can_exit()) break;
        if (idle) {
          s.WaitForCompany(lock);
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

    const std::vector<PredictJob*> pending = s.SettleStopped(disposing, aborting);
    // Launch the next batch before waiting for the oldest, so that two are in flight.
    bool started = false;
    if (!pending.empty() && s.in_flight.size() < TCE_SLOTS) {
      s.StartNext(pending);
      started = true;
    }
    if (!s.in_flight.empty() && (s.in_flight.size() == TCE_SLOTS || !started)) s.FinishOldest();
    s.active.erase(std::remove_if(s.active.begin(), s.active.end(),
                                  [](const JobPtr& job) { return job->settled; }),
                   s.active.end());

    if (disposing && !dispose_handled && !has_pending() && s.in_flight.empty()) {
      // Calls that had started have finished: free the model, then tell the caller.
      dispose_handled = true;
      s.ReleaseModel();
    }
  }
  // The owner is gone or the model is disposed, and nothing is left to run.
  s.ReleaseModel();
}

void ModelRunner::State::ReleaseTf32Claim() {
  if (!tf32_claimed) return;
  tf32_claimed = false;
  CoreCall guard;
  if (!guard) ParkUntilExit();
  core.tf32_release(config.device.c_str(), config.precision, config.tf32 ? 1 : 0);
}

void ModelRunner::State::ReleaseModel() {
  for (const auto& flight : in_flight) {
    if (flight.launch.ok()) Discard(flight.slot);
  }
  in_flight.clear();
  if (model != nullptr) {
    CoreCall guard;
    if (!guard) ParkUntilExit();
    core.model_free(model);
    model = nullptr;
  }
  ReleaseTf32Claim();
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
                                            state->config.precision, state->config.tf32 ? 1 : 0,
                                            err, sizeof err);
      // A model that did not load holds no TF32 setting: another can be loaded with the other.
      if (state->model == nullptr) state->ReleaseTf32Claim();
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
