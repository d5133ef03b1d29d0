// The two batches a model can have in flight (tce_model_submit / tce_model_collect), and what a
// forward sets on its thread: inference mode, the model's CUDA stream. On CUDA each slot owns
// page-locked staging memory for its inputs and scores and an event marking the end of its work
// on the model's stream.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "tce_core.h"

#ifdef TCE_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace tce::core {

#ifdef TCE_WITH_CUDA
// The end of a slot's work on the model's stream. Created at its first record, on the device
// current then (the model's, under its stream guard); destroyed with the slot.
class SlotEvent {
 public:
  SlotEvent() = default;
  SlotEvent(const SlotEvent&) = delete;
  SlotEvent& operator=(const SlotEvent&) = delete;
  ~SlotEvent() {
    if (event_ != nullptr) cudaEventDestroy(event_);
  }

  void record(cudaStream_t stream) {
    if (event_ == nullptr) check(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
    check(cudaEventRecord(event_, stream));
  }

  // Blocks until the work recorded before the event is done; an error of that work (also one
  // raised asynchronously by a kernel) is thrown here.
  void wait() { check(cudaEventSynchronize(event_)); }

 private:
  static void check(cudaError_t status) {
    if (status != cudaSuccess) {
      cudaGetLastError();  // clears a non-sticky error, so that the next call does not report it
      throw std::runtime_error(std::string("CUDA error: ") + cudaGetErrorString(status));
    }
  }
  cudaEvent_t event_ = nullptr;
};

// Page-locked host memory of at least `count` elements, reused when it is large enough.
inline void ensure_pinned(at::Tensor& buffer, int64_t count, c10::ScalarType dtype) {
  if (buffer.defined() && buffer.numel() >= count) return;
  buffer = at::Tensor();  // back to libtorch's host cache before the larger one is taken
  buffer = at::empty({count}, at::TensorOptions().dtype(dtype).pinned_memory(true));
}
#endif

struct Slot {
  bool busy = false;  // submitted, not yet collected or discarded
  int64_t batch = 0;
  int64_t seq_len = 0;
  int activation = TCE_ACTIVATION_IDENTITY;
  bool apply_softmax = false;
  // CPU: the caller's arrays (input_ids, attention_mask, token_type_ids), which it keeps
  // unchanged until collect, where the forward runs.
  const int64_t* arrays[3] = {nullptr, nullptr, nullptr};
  // CUDA: page-locked host memory for the inputs the graph takes (one non-blocking upload) and
  // for the float32 scores (one non-blocking read-back), reused across batches and grown when a
  // batch needs more; the event recorded after the read-back; the labels the forward returned.
  at::Tensor staging;
  at::Tensor scores;
  int64_t num_labels = 0;
#ifdef TCE_WITH_CUDA
  SlotEvent done;
#endif
};

// What a forward sets on the calling thread, for its length: no autograd, no profiling graph
// executor (its passes re-specialise a TorchScript graph on new shapes and can fuse ops past the
// autocast dispatch; a traced BERT gains nothing from them at inference), and on CUDA the model's
// stream and device for the copies and kernels. All of them are thread-local.
class ForwardScope {
 public:
#ifdef TCE_WITH_CUDA
  explicit ForwardScope(const std::optional<c10::cuda::CUDAStream>& stream) : no_graph_optimizer_(false) {
    if (stream) on_stream_.emplace(*stream);
  }
#else
  ForwardScope() : no_graph_optimizer_(false) {}
#endif

 private:
  c10::InferenceMode inference_;
  torch::jit::GraphOptimizerEnabledGuard no_graph_optimizer_;
#ifdef TCE_WITH_CUDA
  std::optional<c10::cuda::CUDAStreamGuard> on_stream_;
#endif
};

}  // namespace tce::core
