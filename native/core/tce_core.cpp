// The torch core's C API for models (tce_core.h): loads a model file (TorchScript model.pt or
// AOTInductor model.pt2, behind one Runner), runs its forwards in two slots on CPU or CUDA,
// applies the activation in float32 and copies scores to host memory. The parts live beside it:
// errors.*, precision.* (autocast, weight casts), slots.h (slots and streams), device_facts.*
// (CUDA devices, TF32), model_file.* (the archive, its CRCs and input names), runner.h and one
// runner per format. Every libtorch exception is caught here: a C++ exception must never unwind
// into the addon.

#include "tce_core.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <array>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "device_facts.h"
#include "errors.h"
#include "model_file.h"
#include "precision.h"
#include "runner.h"
#include "slots.h"
#include "torch_version.h"

#define TCE_STR2(x) #x
#define TCE_STR(x) TCE_STR2(x)

using namespace tce::core;

struct tce_model {
  std::unique_ptr<Runner> runner;
  c10::Device device{c10::kCPU};
  std::array<Slot, TCE_SLOTS> slots;
#ifdef TCE_WITH_CUDA
  // CUDA only: this model's own stream from libtorch's pool, so that its copies and kernels
  // neither wait for nor hold up other models' work on the legacy default stream.
  std::optional<c10::cuda::CUDAStream> stream;
#endif

  ForwardScope forward_scope() const {
#ifdef TCE_WITH_CUDA
    return ForwardScope(stream);
#else
    return ForwardScope();
#endif
  }

  void* cuda_stream() const {
#ifdef TCE_WITH_CUDA
    if (stream) return static_cast<void*>(stream->stream());
#endif
    return nullptr;
  }
};

namespace {

// The model's output for the inputs its graph takes (in its order) as float32 scores
// [batch, labels] on its device, after the activation. Called with ForwardScope in place.
at::Tensor score(tce_model* model, const std::vector<at::Tensor>& inputs, int64_t batch, int activation,
                 bool apply_softmax) {
  at::Tensor logits = model->runner->forward(inputs, model->cuda_stream());
  if (logits.dim() == 1) logits = logits.unsqueeze(1);
  if (logits.dim() != 2 || logits.size(0) != batch) {
    throw std::runtime_error(std::string(model->runner->file_kind()) + " returned logits of shape " +
                             c10::str(logits.sizes()) + " for a batch of " + std::to_string(batch) +
                             "; expected [batch, num_labels]");
  }
  return activate(logits, activation, apply_softmax).contiguous();
}

// Copies float32 scores [batch, labels] to the caller's buffer, within its capacity.
int copy_scores(const tce_model* model, const float* scores, int64_t batch, int64_t labels, float* out,
                int64_t out_capacity, int64_t* num_labels, char* err, size_t err_len) {
  if (batch * labels > out_capacity) {
    write_error(err, err_len,
                std::string(model->runner->file_kind()) + " returned " + std::to_string(labels) +
                    " labels per pair, more than the model's config.json declares");
    return TCE_ERROR;
  }
  std::memcpy(out, scores, sizeof(float) * static_cast<size_t>(batch * labels));
  *num_labels = labels;
  return TCE_OK;
}

Slot* slot_of(tce_model* model, int slot, char* err, size_t err_len) {
  if (slot < 0 || slot >= TCE_SLOTS) {
    write_error(err, err_len, "no slot " + std::to_string(slot) + " (a model has " + std::to_string(TCE_SLOTS) + ")");
    return nullptr;
  }
  return &model->slots[static_cast<size_t>(slot)];
}

// After a failed submit the input upload may still be reading the slot's staging memory, which
// the next submit refills: wait for the model's stream (never throws).
void wait_for_model_stream(tce_model* model) {
#ifdef TCE_WITH_CUDA
  try {
    if (model->stream) model->stream->synchronize();
  } catch (...) {
  }
#else
  (void)model;
#endif
}

#ifdef TCE_WITH_CUDA
// Stages the inputs the graph takes in the slot's page-locked memory, uploads them and launches
// the forward and the read-back of its scores on the model's stream, then records the slot's
// event. Never waits for the device. The staging memory is free: the slot's last batch was
// collected or discarded.
void submit_cuda(tce_model* model, Slot& slot) {
  const auto& kinds = model->runner->inputs();
  const int64_t count = slot.batch * slot.seq_len;
  // Each input starts at a multiple of 16 bytes (an even number of int64 values) in the one
  // upload: AOTInductor's generated code checks or assumes 16-byte aligned inputs, and with an odd
  // batch * seq_len the second input would start 8 bytes off. The gap values are never read.
  const int64_t stride = (count + 1) & ~int64_t{1};
  const auto n = static_cast<int64_t>(kinds.size());
  ensure_pinned(slot.staging, n * stride, at::kLong);
  int64_t* staged = slot.staging.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(staged + i * stride, slot.arrays[kinds[static_cast<size_t>(i)]], sizeof(int64_t) * count);
    if (stride > count) staged[i * stride + count] = 0;  // the pad: uploaded, so defined
  }
  const at::Tensor device_inputs =
      slot.staging.narrow(0, 0, n * stride).to(model->device, /*non_blocking=*/true);
  std::vector<at::Tensor> inputs;
  for (int64_t i = 0; i < n; ++i) {
    inputs.push_back(device_inputs.narrow(0, i * stride, count).view({slot.batch, slot.seq_len}));
  }
  const at::Tensor scores = score(model, inputs, slot.batch, slot.activation, slot.apply_softmax);
  ensure_pinned(slot.scores, scores.numel(), at::kFloat);
  // Queued behind the forward on the model's stream: the host does not wait for it here.
  slot.scores.narrow(0, 0, scores.numel()).view(scores.sizes()).copy_(scores, /*non_blocking=*/true);
  slot.num_labels = scores.size(1);
  slot.done.record(model->stream->stream());
}
#endif

// A traced or compiled model has no inter-op parallelism (no forks), and each model's forwards
// already run on a thread of their own: one inter-op thread keeps libtorch from starting a pool
// of one thread per core beside the intra-op (OpenMP) ones, should any op launch inter-op work.
// libtorch takes the setting once, before its first inter-op work; a later call would throw.
void limit_interop_threads() {
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      at::set_num_interop_threads(1);
    } catch (...) {
      // already set by the embedding process (or already started): leave it
    }
  });
}

}  // namespace

extern "C" {

uint32_t tce_core_abi(void) { return TCE_CORE_ABI; }

const char* tce_core_torch_version(void) {
  return TCE_STR(TORCH_VERSION_MAJOR) "." TCE_STR(TORCH_VERSION_MINOR) "." TCE_STR(TORCH_VERSION_PATCH);
}

void tce_set_num_threads(int threads) {
  try {
    if (threads > 0) at::set_num_threads(threads);
  } catch (...) {
    // libtorch keeps its thread count; nothing to report through this signature.
  }
}

int tce_get_num_threads(void) {
  try {
    return at::get_num_threads();
  } catch (...) {
    return 1;
  }
}

tce_model* tce_model_load(const char* path, const char* device, int precision, int tf32, char* err, size_t err_len) {
  return guarded("tce_model_load", err, err_len, static_cast<tce_model*>(nullptr), [&]() -> tce_model* {
    limit_interop_threads();
    auto model = std::make_unique<tce_model>();
    model->device = c10::Device(std::string(device));
    if (model->device.is_cuda() && !torch::cuda::is_available()) {
      write_error(err, err_len, "CUDA is not available to this libtorch");
      return nullptr;
    }
    if (model->device.is_cuda() && model->device.has_index() &&
        model->device.index() >= static_cast<int>(torch::cuda::device_count())) {
      write_error(err, err_len,
                  std::string("no such device ") + device + ": this machine has " +
                      std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
      return nullptr;
    }
    if (shares_tf32_switch(device, precision) && !apply_tf32_claim(tf32 != 0)) {
      write_error(err, err_len, "internal error: a CUDA fp32 model was loaded without its TF32 claim");
      return nullptr;
    }
    // Every entry is checked against its CRC before libtorch reads any: libtorch's own readers do
    // not check them, and a flipped bit in a weight would score as NaN or garbage.
    const ModelFile file(path);
    file.verify_crcs();
#ifdef TCE_WITH_CUDA
    if (model->device.is_cuda()) {
      const auto index = model->device.has_index() ? model->device.index() : c10::DeviceIndex(0);
      model->device = c10::Device(c10::kCUDA, index);
      model->stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index);
    }
    std::optional<c10::cuda::CUDAStreamGuard> on_stream;
    if (model->stream) on_stream.emplace(*model->stream);
#endif
    model->runner = file.format() == ModelFormat::kAotiPackage ? load_aoti_package(file, model->device, precision)
                                                                : load_torchscript(file, model->device, precision);
#ifdef TCE_WITH_CUDA
    if (model->stream) model->stream->synchronize();  // the weight casts done at load
#endif
    return model.release();
  });
}

int tce_model_submit(tce_model* model, int slot_index, const int64_t* input_ids, const int64_t* attention_mask,
                     const int64_t* token_type_ids, int64_t batch, int64_t seq_len, int activation,
                     int apply_softmax, char* err, size_t err_len) {
  return guarded("tce_model_submit", err, err_len, static_cast<int>(TCE_ERROR), [&]() -> int {
    Slot* slot = slot_of(model, slot_index, err, err_len);
    if (slot == nullptr) return TCE_ERROR;
    if (slot->busy) {
      write_error(err, err_len, "slot " + std::to_string(slot_index) + " is still in flight");
      return TCE_ERROR;
    }
    slot->batch = batch;
    slot->seq_len = seq_len;
    slot->activation = activation;
    slot->apply_softmax = apply_softmax != 0;
    slot->arrays[kInputIds] = input_ids;
    slot->arrays[kAttentionMask] = attention_mask;
    slot->arrays[kTokenTypeIds] = token_type_ids;
    if (!model->device.is_cuda()) {
      // The CPU has nothing to overlap with: the forward runs when the scores are asked for.
      slot->busy = true;
      return TCE_OK;
    }
#ifdef TCE_WITH_CUDA
    try {
      ForwardScope scope = model->forward_scope();
      submit_cuda(model, *slot);
      slot->busy = true;
      return TCE_OK;
    } catch (const std::exception& e) {
      wait_for_model_stream(model);
      return forward_failure(e, err, err_len);
    } catch (...) {
      wait_for_model_stream(model);
      throw;  // guarded() reports it
    }
#else
    write_error(err, err_len, "this core was built without CUDA");
    return TCE_ERROR;
#endif
  });
}

int tce_model_collect(tce_model* model, int slot_index, float* out, int64_t out_capacity, int64_t* num_labels,
                      char* err, size_t err_len) {
  return guarded("tce_model_collect", err, err_len, static_cast<int>(TCE_ERROR), [&]() -> int {
    Slot* slot = slot_of(model, slot_index, err, err_len);
    if (slot == nullptr) return TCE_ERROR;
    if (!slot->busy) {
      write_error(err, err_len, "slot " + std::to_string(slot_index) + " has no forward in flight");
      return TCE_ERROR;
    }
    slot->busy = false;  // free again whatever happens below
    try {
#ifdef TCE_WITH_CUDA
      if (model->device.is_cuda()) {
        slot->done.wait();
        return copy_scores(model, slot->scores.data_ptr<float>(), slot->batch, slot->num_labels, out, out_capacity,
                           num_labels, err, err_len);
      }
#endif
      ForwardScope scope = model->forward_scope();
      const auto host = at::TensorOptions().dtype(at::kLong);
      std::vector<at::Tensor> inputs;
      for (InputKind kind : model->runner->inputs()) {
        inputs.push_back(at::from_blob(const_cast<int64_t*>(slot->arrays[kind]), {slot->batch, slot->seq_len}, host));
      }
      const at::Tensor scores = score(model, inputs, slot->batch, slot->activation, slot->apply_softmax);
      return copy_scores(model, scores.data_ptr<float>(), slot->batch, scores.size(1), out, out_capacity, num_labels,
                         err, err_len);
    } catch (const std::exception& e) {
      return forward_failure(e, err, err_len);
    }
  });
}

void tce_model_discard(tce_model* model, int slot_index) {
  if (model == nullptr || slot_index < 0 || slot_index >= TCE_SLOTS) return;
  Slot& slot = model->slots[static_cast<size_t>(slot_index)];
  if (!slot.busy) return;
  slot.busy = false;
#ifdef TCE_WITH_CUDA
  if (model->device.is_cuda()) {
    try {
      slot.done.wait();  // the next submit to this slot refills its page-locked memory
    } catch (...) {
    }
  }
#endif
}

void tce_model_free(tce_model* model) {
  if (model == nullptr) return;
  try {
    // The model's memory goes back to libtorch's caching allocators, where other models in this
    // process reuse it; emptying the whole cache here would also take other models' blocks.
    for (int slot = 0; slot < TCE_SLOTS; ++slot) tce_model_discard(model, slot);
    wait_for_model_stream(model);
    delete model;
  } catch (...) {
  }
}

}  // extern "C"
