// One loaded model and the native thread that runs it.
//
// Every libtorch call for a model happens on its executor thread: autocast state is thread-local,
// a model must not run two forwards at once, and a GPU job must not hold one of libuv's four pool
// threads for seconds. Calls are queued; each is tokenized on the shared CPU pool, sorted by
// length, cut into batches by a token budget, run, and scattered back into input order.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "addon/core_loader.h"
#include "tokenizer/tokenizer.h"

namespace tce::engine {

struct ModelConfig {
  std::string path;
  std::string device;
  int precision = TCE_PRECISION_FP32;
  size_t num_labels = 1;
  size_t max_length = 512;
};

struct PredictOptions {
  size_t batch_size = 32;           // at most this many pairs a forward
  size_t max_batch_tokens = 16384;  // at most this many tokens a forward, padding included
  int activation = TCE_ACTIVATION_IDENTITY;
  bool apply_softmax = false;
};

// What a call reports back; every callback runs on the executor thread and must be cheap.
struct PredictCallbacks {
  std::function<void(size_t done, size_t total)> progress;
  std::function<void(std::vector<float> scores, size_t num_labels)> done;
  // code: "ABORT_ERR", "TCE_DISPOSED", "TCE_FORWARD_FAILED", "TCE_INVALID_INPUT"
  std::function<void(std::string message, std::string code)> failed;
};

struct PredictJob {
  std::vector<std::string> a;  // queries (segment A)
  std::vector<std::string> b;  // documents (segment B)
  PredictOptions options;
  PredictCallbacks callbacks;
  std::atomic<bool> cancelled{false};
};

class ModelRunner {
 public:
  ModelRunner(const CoreApi& core, std::shared_ptr<const tok::Tokenizer> tokenizer,
              ModelConfig config);
  // Stops the executor once its queue is drained; a running forward finishes first.
  ~ModelRunner();

  // Loads model.pt on the executor thread; `done` gets "" or the error text.
  void Load(std::function<void(std::string error)> done);
  // Queues a call. After Dispose(), the call fails with TCE_DISPOSED.
  void Submit(std::shared_ptr<PredictJob> job);
  // Calls already queued fail with TCE_DISPOSED, the running one finishes, the model is freed,
  // then `done` runs.
  void Dispose(std::function<void()> done);

  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

 private:
  struct State;
  static void ExecutorLoop(std::shared_ptr<State> state);
  static void RunJob(State& state, PredictJob& job);

  std::shared_ptr<State> state_;
};

}  // namespace tce::engine
