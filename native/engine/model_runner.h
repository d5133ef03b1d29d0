// One loaded model and the native threads that run it.
//
// A tokenizing thread turns each submitted call into encodings (in parallel on the shared CPU
// pool) and sorts them by length; the executor thread forms batches from every pending call
// (engine/batch_former.h), runs them, and scatters scores back into each call's input order.
// Every libtorch call for a model happens on its executor thread: autocast state is
// thread-local, a model must not run two forwards at once, and a GPU job must not hold one of
// libuv's four pool threads for seconds. While the executor runs a forward, the next calls are
// tokenized, so the device does not wait for the CPU.
//
// Two batches are in flight (the core's two slots): the executor forms, pads and launches batch
// N+1 before it waits for batch N, so that on CUDA the device goes from one forward to the next
// while the host scatters the scores of the one and forms the one after. Each slot has its own
// padded buffer, which stays untouched until its batch is collected. On the CPU the forward runs
// when its scores are collected, in the same order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "addon/core_loader.h"
#include "engine/predict_job.h"
#include "tokenizer/tokenizer.h"

namespace tce::engine {

struct ModelConfig {
  std::string path;
  std::string device;
  int precision = TCE_PRECISION_FP32;
  size_t num_labels = 1;
  size_t max_length = 512;
  bool share_batches = true;  // let concurrent calls share forwards
  double max_wait_ms = 0;     // how long an idle executor waits for more pairs to fill a batch
  int cpu_threads = 0;        // libtorch intra-op threads for this model's forwards (0: leave)
  // TF32 matmuls (CUDA fp32). The caller claims this setting (CoreApi::tf32_claim) before it
  // creates the runner, which gives the claim back when its model fails to load or is freed.
  bool tf32 = false;
};

// Counters since the model was loaded, for benchmarks and monitoring.
// Forwards count when their scores are read back; a forward that failed, or whose scores nobody
// wanted any more (aborted calls), does not count.
struct ModelStats {
  uint64_t forwards = 0;        // forwards run (an out-of-memory split counts each part)
  uint64_t pairs = 0;           // pairs scored
  uint64_t tokens = 0;          // real tokens in them
  uint64_t padded_tokens = 0;   // tokens computed, padding included
  uint64_t shared_forwards = 0; // forwards that held pairs of more than one call
  uint64_t overlapped_forwards = 0;  // forwards launched while the one before was in flight
  // Executor time inside the core for these forwards: launching each (staging, upload, kernel
  // launches) plus reading its scores back, waiting for the device included. One thread makes
  // these calls, so the intervals never overlap: forward_ms / wall time is the share of time
  // the executor was busy with forwards.
  double forward_ms = 0;
  // The part of forward_ms spent collecting: on CUDA mostly waiting for the device, so a share
  // of wall time near 1 means the device, not the host, sets the pace; on the CPU, where a
  // forward runs when its scores are collected, the forwards themselves.
  double wait_ms = 0;
};

class ModelRunner {
 public:
  ModelRunner(const CoreApi& core, std::shared_ptr<const tok::Tokenizer> tokenizer,
              ModelConfig config);
  // Lets the threads drain their queues and exit; never waits for them.
  ~ModelRunner();

  // Loads model.pt on the executor thread; `done` gets "" or the error text.
  void Load(std::function<void(std::string error)> done);
  // Queues a call. After Dispose(), the call fails with TCE_DISPOSED.
  void Submit(std::shared_ptr<PredictJob> job);
  // Marks a submitted call aborted (JS thread): it takes no further part in batches and fails
  // with ABORT_ERR.
  static void Cancel(PredictJob& job);
  // Calls that have not started fail with TCE_DISPOSED; calls already running finish, or with
  // `abort` stop once the forward in progress ends and fail with TCE_DISPOSED (a batch already
  // launched behind it is waited for, on CUDA, and its scores dropped). Then the model is
  // freed and `done` runs. Can be called again (e.g. to abort after a plain dispose).
  void Dispose(bool abort, std::function<void()> done);
  // The JS environment that owns the model is going away (a worker ending): nobody can receive
  // results any more, so queued and running calls stop at the next batch.
  void Abandon();
  // Safe to call from any thread.
  ModelStats Stats() const;

  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace tce::engine
