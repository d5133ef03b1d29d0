// One predict()/rank() call as the engine sees it: its pairs, its options, where its scores go,
// and how far it has got. Several jobs can share a batch.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tce_core.h"
#include "tokenizer/tokenizer.h"

namespace tce::engine {

struct PredictOptions {
  size_t batch_size = 32;           // at most this many pairs a forward
  size_t max_batch_tokens = 16384;  // at most this many tokens a forward, padding included
  int activation = TCE_ACTIVATION_IDENTITY;
  bool apply_softmax = false;

  // Jobs whose scores are computed the same way may share a forward.
  bool CompatibleWith(const PredictOptions& other) const {
    return activation == other.activation && apply_softmax == other.apply_softmax;
  }
};

// Every callback runs on an engine thread and must be cheap (they post to the JS thread).
struct PredictCallbacks {
  std::function<void(size_t done, size_t total)> progress;
  std::function<void(std::vector<float> scores, size_t num_labels)> done;
  // code: "ABORT_ERR", "TCE_DISPOSED", "TCE_FORWARD_FAILED"
  std::function<void(std::string message, std::string code)> failed;
};

struct PredictJob {
  // Set by the caller before Submit(); released once tokenized (a large call's texts are
  // copied here, and held only as long as they are needed).
  std::vector<std::string> a;  // queries (segment A)
  std::vector<std::string> b;  // documents (segment B)
  // Set instead of `b` for texts already in the model's format (engine/rendered_input.h): each
  // text of `a` is tokenized alone, without special tokens, and a row cut to max_length ends
  // with `restore_suffix`.
  bool rendered = false;
  std::vector<int32_t> restore_suffix;
  size_t count = 0;            // pairs in the call, set by Submit()
  PredictOptions options;
  PredictCallbacks callbacks;
  std::atomic<bool> cancelled{false};
  // Set by ModelRunner::Submit (JS thread): wakes the executor so that it notices a cancel.
  std::function<void()> wake;

  // Set by the tokenizing thread before the executor sees the job. An encoding is released
  // once its pair is scored; its length stays in `lengths` for the batch former.
  std::vector<tok::Encoding> encodings;
  std::vector<uint32_t> lengths;  // tokens of each pair, by input index
  std::vector<uint32_t> order;    // input indices by decreasing token count (stable)
  uint64_t arrival = 0;

  // Touched only by the executor thread.
  std::vector<uint8_t> taken;  // taken[k]: order[k] is in a batch already
  size_t head = 0;             // order[head..] holds every item not taken yet
  size_t scheduled = 0;        // items put into batches
  size_t done = 0;             // items scored
  std::vector<float> scores;   // [n, num_labels] in input order
  bool settled = false;        // done or failed callback already called

  size_t size() const { return count; }
  size_t remaining() const { return size() - scheduled; }
  size_t length_at(size_t k) const { return lengths[order[k]]; }
};

}  // namespace tce::engine
