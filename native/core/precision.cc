#include "precision.h"

#include <ATen/autocast_mode.h>

#include <unordered_map>
#include <unordered_set>

#include "tce_core.h"
#include "torch_version.h"

namespace tce::core {

c10::ScalarType autocast_dtype(int precision) {
  return precision == TCE_PRECISION_BF16 ? at::kBFloat16 : at::kHalf;
}

// The autocast API was renamed in libtorch 2.4.
AutocastScope::AutocastScope(const c10::Device& device, int precision) {
  if (precision == TCE_PRECISION_FP32) return;
  cuda_ = device.is_cuda();
  cache_was_enabled_ = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);
#if TCE_TORCH_AT_LEAST(2, 4)
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  was_enabled_ = at::autocast::is_autocast_enabled(type);
  previous_dtype_ = at::autocast::get_autocast_dtype(type);
  at::autocast::set_autocast_dtype(type, autocast_dtype(precision));
  at::autocast::set_autocast_enabled(type, true);
#else
  if (cuda_) {
    was_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(autocast_dtype(precision));
    at::autocast::set_enabled(true);
  } else {
    was_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(autocast_dtype(precision));
    at::autocast::set_cpu_enabled(true);
  }
#endif
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  at::autocast::decrement_nesting();
  at::autocast::set_autocast_cache_enabled(cache_was_enabled_);
#if TCE_TORCH_AT_LEAST(2, 4)
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_enabled(type, was_enabled_);
  at::autocast::set_autocast_dtype(type, previous_dtype_);
#else
  if (cuda_) {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  } else {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  }
#endif
}

void cast_linear_weights(torch::jit::script::Module& module, c10::ScalarType dtype) {
  const auto is_linear = [](const torch::jit::script::Module& m) {
    // A traced nn.Linear is __torch__.torch.nn.modules.linear[.___torch_mangle_N].Linear.
    const auto type_name = m.type()->name();
    return type_name && type_name->name() == "Linear" &&
           type_name->qualifiedName().find("torch.nn.modules.linear") != std::string::npos;
  };
  // A tensor that a Linear shares with anything else (tied weights: an embedding, a buffer) is
  // left alone: casting it would change what that other user computes with.
  std::unordered_map<const c10::TensorImpl*, int> uses;
  std::unordered_set<const c10::TensorImpl*> outside_linear;
  for (const auto& child : module.named_modules()) {
    const bool linear = is_linear(child.value);
    for (const auto& parameter : child.value.named_parameters(/*recurse=*/false)) {
      ++uses[parameter.value.unsafeGetTensorImpl()];
      if (!linear) outside_linear.insert(parameter.value.unsafeGetTensorImpl());
    }
    for (const auto& buffer : child.value.named_buffers(/*recurse=*/false)) {
      outside_linear.insert(buffer.value.unsafeGetTensorImpl());
    }
  }
  for (const auto& child : module.named_modules()) {
    if (!is_linear(child.value)) continue;
    for (const auto& parameter : child.value.named_parameters(/*recurse=*/false)) {
      const c10::TensorImpl* impl = parameter.value.unsafeGetTensorImpl();
      if (!parameter.value.is_floating_point() || uses[impl] > 1 || outside_linear.count(impl) > 0) continue;
      parameter.value.set_data(parameter.value.to(dtype));
    }
  }
}

void upcast_stored_half(torch::jit::script::Module& module) {
  // Tensor by tensor: Module::to(dtype) would also turn integer buffers (position ids) to float.
  const auto upcast = [](const at::Tensor& tensor) {
    if (tensor.is_floating_point() && tensor.scalar_type() != at::kFloat) {
      tensor.set_data(tensor.to(at::kFloat));
    }
  };
  for (const auto& parameter : module.parameters()) upcast(parameter);
  for (const auto& buffer : module.buffers()) upcast(buffer);
}

at::Tensor activate(at::Tensor logits, int activation, bool apply_softmax) {
  logits = logits.to(at::kFloat);  // upcast half logits before the activation, as ST v6 does
  switch (activation) {
    case TCE_ACTIVATION_SIGMOID: logits = at::sigmoid(logits); break;
    case TCE_ACTIVATION_TANH: logits = at::tanh(logits); break;
    case TCE_ACTIVATION_SOFTMAX: logits = at::softmax(logits, 1); break;
    default: break;
  }
  if (apply_softmax) logits = at::softmax(logits, 1);
  return logits;
}

}  // namespace tce::core
