// Precision of a forward: autocast for fp16/bf16 TorchScript forwards, the weight casts done once
// at load instead of on every forward, and the activation, which always runs in float32.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/Device.h>
#include <torch/script.h>

namespace tce::core {

// The half type of a TCE_PRECISION_* (fp16 or bf16).
c10::ScalarType autocast_dtype(int precision);

// Autocast on the calling thread for the length of a forward (its state is thread-local), and
// restored afterwards. Nothing for fp32. Its weight-cast cache stays off: the Linear weights were
// cast once at load (cast_linear_weights), so there is little to cache, and in libtorch 2.x the
// cache is one process-wide map whose clearing by one model would throw away another's casts.
class AutocastScope {
 public:
  AutocastScope(const c10::Device& device, int precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool cache_was_enabled_ = true;
  bool was_enabled_ = false;
  c10::ScalarType previous_dtype_ = at::kHalf;
};

// What autocast would do to every Linear on every forward, done once: its weight and bias in
// half precision. LayerNorm, softmax and embeddings keep their fp32 parameters, as under autocast.
void cast_linear_weights(torch::jit::script::Module& module, c10::ScalarType dtype);

// A model.pt may store its weights in half precision to be small (scripts/export.py
// --half-storage); its graph was traced in float32, so every floating parameter and buffer goes
// back to float32 at load.
void upcast_stored_half(torch::jit::script::Module& module);

// The activation (TCE_ACTIVATION_*) and optional softmax over labels, in float32.
at::Tensor activate(at::Tensor logits, int activation, bool apply_softmax);

}  // namespace tce::core
