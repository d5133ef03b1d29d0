// The torch core: the only code that includes libtorch. Loads a TorchScript cross-encoder, runs
// forward on CPU or CUDA under autocast, applies the activation in float32 and copies scores to
// host memory. Everything crosses the boundary as plain C (see tce_core.h); every libtorch
// exception is caught here, because a C++ exception must never unwind into the addon.

#include "tce_core.h"

#include <torch/csrc/api/include/torch/version.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/util/Exception.h>

#ifdef TCE_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cstdio>
#endif

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#define TCE_STR2(x) #x
#define TCE_STR(x) TCE_STR2(x)
#define TCE_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||      \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

struct tce_model {
  torch::jit::script::Module module;
  c10::Device device{c10::kCPU};
  int precision = TCE_PRECISION_FP32;
  // CUDA only: page-locked host memory the three inputs are staged in, so that one
  // non-blocking copy moves them. Reused across forwards; grown when a batch needs more.
  torch::Tensor staging;
#ifdef TCE_WITH_CUDA
  // CUDA only: this model's own stream from libtorch's pool, so that its copies and kernels
  // neither wait for nor hold up other models' work on the legacy default stream.
  std::optional<c10::cuda::CUDAStream> stream;
#endif
};

namespace {

void write_error(char* err, size_t err_len, const std::string& message) {
  if (err == nullptr || err_len == 0) return;
  const size_t n = std::min(message.size(), err_len - 1);
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

// The text of an exception for a user: libtorch's own errors without their C++ backtrace
// ("frame #0 ..."), anything else cut to its first lines.
std::string message_of(const std::exception& e, size_t max_lines = 12);

// A long message keeps its first lines and its last ones: a TorchScript interpreter error starts
// with where it happened and ends with what happened ("RuntimeError: ...").
std::string first_lines(const char* what, size_t max_lines = 6) {
  std::string text(what == nullptr ? "" : what);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  lines.push_back(text.substr(start));
  if (lines.size() <= max_lines) return text;
  const size_t head = max_lines / 2;
  const size_t tail = max_lines - head;
  std::string out;
  for (size_t i = 0; i < head; ++i) out += lines[i] + "\n";
  out += "  ...\n";
  for (size_t i = lines.size() - tail; i < lines.size(); ++i) out += lines[i] + (i + 1 < lines.size() ? "\n" : "");
  return out;
}

std::string message_of(const std::exception& e, size_t max_lines) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    return first_lines(error->what_without_backtrace(), max_lines);
  }
  return first_lines(e.what(), max_lines);
}

// Out-of-memory as libtorch reports it (c10::OutOfMemoryError, from the caching allocator) or as
// a library reports it in a message: cuBLAS and cuDNN failing to allocate their workspaces.
bool is_out_of_memory_message(const std::string& message) {
  return message.find("out of memory") != std::string::npos ||
         message.find("CUBLAS_STATUS_ALLOC_FAILED") != std::string::npos ||
         message.find("CUDNN_STATUS_ALLOC_FAILED") != std::string::npos ||
         message.find("CUDNN_STATUS_NOT_ENOUGH_WORKSPACE") != std::string::npos;
}

c10::ScalarType autocast_dtype(int precision) {
  return precision == TCE_PRECISION_BF16 ? at::kBFloat16 : at::kHalf;
}

// Autocast state is thread-local: it is switched on by the thread that runs forward, for the
// length of the call, and restored afterwards. The API was renamed in libtorch 2.4.
// Its weight-cast cache stays off: the Linear weights were cast once at load
// (cast_linear_weights), so there is little to cache, and in libtorch 2.x the cache is one
// process-wide map whose clearing by one model would throw away another model's casts (the
// switch itself, like the rest of autocast's state, is per thread).
class AutocastScope {
 public:
  AutocastScope(const c10::Device& device, int precision) {
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

  ~AutocastScope() {
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
// half precision. autocast then finds them already in fp16/bf16 and casts only activations;
// LayerNorm, softmax and embeddings keep their fp32 parameters, as under autocast.
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

// A model.pt may store its weights in half precision to be small (scripts/export.py
// --half-storage); its graph was traced in float32, so every floating parameter and buffer goes
// back to float32 at load, and the model computes as the float32 model whose weights were rounded.
void upcast_stored_half(torch::jit::script::Module& module) {
  // Tensor by tensor: Module::to(dtype) would also turn integer buffers (position ids) to float.
  const auto upcast = [](const torch::Tensor& tensor) {
    if (tensor.is_floating_point() && tensor.scalar_type() != torch::kFloat32) {
      tensor.set_data(tensor.to(torch::kFloat32));
    }
  };
  for (const auto& parameter : module.parameters()) upcast(parameter);
  for (const auto& buffer : module.buffers()) upcast(buffer);
}

torch::Tensor first_tensor(const c10::IValue& output) {
  if (output.isTensor()) return output.toTensor();
  if (output.isTuple()) {
    const auto& elements = output.toTupleRef().elements();
    if (!elements.empty() && elements[0].isTensor()) return elements[0].toTensor();
  }
  if (output.isList()) {
    const auto list = output.toList();
    if (list.size() > 0 && list.get(0).isTensor()) return list.get(0).toTensor();
  }
  if (output.isGenericDict()) {
    const auto dict = output.toGenericDict();
    for (const auto& key : {"logits", "scores"}) {
      if (dict.contains(key) && dict.at(key).isTensor()) return dict.at(key).toTensor();
    }
  }
  throw std::runtime_error(
      "model.pt returned " + output.tagKind() +
      ", expected a logits tensor [batch, num_labels] or a tuple whose first item is one. "
      "Re-export the model with scripts/export.py.");
}

torch::Tensor activate(torch::Tensor logits, int activation, bool apply_softmax) {
  logits = logits.to(torch::kFloat32);  // upcast half logits before the activation, as ST v6 does
  switch (activation) {
    case TCE_ACTIVATION_SIGMOID: logits = torch::sigmoid(logits); break;
    case TCE_ACTIVATION_TANH: logits = torch::tanh(logits); break;
    case TCE_ACTIVATION_SOFTMAX: logits = torch::softmax(logits, 1); break;
    default: break;
  }
  if (apply_softmax) logits = torch::softmax(logits, 1);
  return logits;
}

// After a failed forward the input upload may still be reading the staging buffer, which the
// next forward refills: wait for the model's stream (never throws).
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
// Free device memory without creating a CUDA context: cudaMemGetInfo needs one (hundreds of MB on
// every GPU it is asked about), NVML does not. libnvidia-ml comes with the driver; it is opened
// at run time so that the core does not depend on it, and a device it cannot answer for reports
// its free memory as unknown.
class Nvml {
 public:
  static const Nvml& instance() {
    static const Nvml nvml;
    return nvml;
  }

  // Free bytes of the CUDA device with these properties, or UINT64_MAX when unknown.
  uint64_t free_bytes(const cudaDeviceProp& props) const {
    if (!ready_) return UINT64_MAX;
    char bus_id[32];
    std::snprintf(bus_id, sizeof bus_id, "%08x:%02x:%02x.0", static_cast<unsigned>(props.pciDomainID),
                  static_cast<unsigned>(props.pciBusID), static_cast<unsigned>(props.pciDeviceID));
    void* device = nullptr;
    Memory memory{};
    if (by_pci_bus_id_(bus_id, &device) != 0 || memory_info_(device, &memory) != 0) return UINT64_MAX;
    // Under MIG the bus id names the whole GPU while CUDA sees one slice: never report more free
    // memory than the device the caller can use has.
    return std::min<uint64_t>(memory.free, props.totalGlobalMem);
  }

 private:
  struct Memory {  // nvmlMemory_t
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
  };

  Nvml() {
    void* library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) return;
    auto init = reinterpret_cast<int (*)()>(dlsym(library, "nvmlInit_v2"));
    by_pci_bus_id_ = reinterpret_cast<int (*)(const char*, void**)>(dlsym(library, "nvmlDeviceGetHandleByPciBusId_v2"));
    memory_info_ = reinterpret_cast<int (*)(void*, Memory*)>(dlsym(library, "nvmlDeviceGetMemoryInfo"));
    ready_ = init != nullptr && by_pci_bus_id_ != nullptr && memory_info_ != nullptr && init() == 0;
    // The library stays loaded for the life of the process: NVML is cheap and shut down at exit.
  }

  bool ready_ = false;
  int (*by_pci_bus_id_)(const char*, void**) = nullptr;
  int (*memory_info_)(void*, Memory*) = nullptr;
};
#endif

}  // namespace

extern "C" {

uint32_t tce_core_abi(void) { return TCE_CORE_ABI; }

const char* tce_core_torch_version(void) {
  return TCE_STR(TORCH_VERSION_MAJOR) "." TCE_STR(TORCH_VERSION_MINOR) "." TCE_STR(
      TORCH_VERSION_PATCH);
}

int tce_cuda_device_count(void) {
  try {
    return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  } catch (...) {
    return 0;
  }
}

int tce_cuda_device_info(int index, char* name, size_t name_len, uint64_t* total_bytes,
                         uint64_t* free_bytes, char* err, size_t err_len) {
  try {
    if (index < 0 || index >= tce_cuda_device_count()) {
      write_error(err, err_len, "no CUDA device " + std::to_string(index));
      return TCE_ERROR;
    }
#ifdef TCE_WITH_CUDA
    cudaDeviceProp props{};
    if (cudaGetDeviceProperties(&props, index) != cudaSuccess) {
      write_error(err, err_len, "cannot read the properties of CUDA device " + std::to_string(index));
      return TCE_ERROR;
    }
    write_error(name, name_len, props.name);
    *total_bytes = props.totalGlobalMem;
    *free_bytes = Nvml::instance().free_bytes(props);
#else
    // A core built without CUDA headers can still see devices through libtorch, not their names.
    write_error(name, name_len, "CUDA device " + std::to_string(index));
    *total_bytes = 0;
    *free_bytes = UINT64_MAX;
#endif
    return TCE_OK;
  } catch (const std::exception& e) {
    write_error(err, err_len, message_of(e, 6));
    return TCE_ERROR;
  }
}

void tce_set_num_threads(int threads) {
  if (threads > 0) at::set_num_threads(threads);
}

int tce_get_num_threads(void) { return at::get_num_threads(); }

tce_model* tce_model_load(const char* path, const char* device, int precision, char* err,
                          size_t err_len) {
  try {
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
    model->precision = precision;
    model->module = torch::jit::load(std::string(path), model->device);
    model->module.eval();
    upcast_stored_half(model->module);
#ifdef TCE_WITH_CUDA
    if (model->device.is_cuda()) {
      const auto index = model->device.has_index() ? model->device.index() : c10::DeviceIndex(0);
      model->device = c10::Device(c10::kCUDA, index);
      model->stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index);
    }
#endif
    if (precision != TCE_PRECISION_FP32) {
#ifdef TCE_WITH_CUDA
      std::optional<c10::cuda::CUDAStreamGuard> on_stream;
      if (model->stream) on_stream.emplace(*model->stream);
#endif
      cast_linear_weights(model->module, autocast_dtype(precision));
#ifdef TCE_WITH_CUDA
      if (model->stream) model->stream->synchronize();
#endif
    }
    return model.release();
  } catch (const std::exception& e) {
    write_error(err, err_len, message_of(e));
    return nullptr;
  }
}

int tce_model_forward(tce_model* model, const int64_t* input_ids, const int64_t* attention_mask,
                      const int64_t* token_type_ids, int64_t batch, int64_t seq_len,
                      int activation, int apply_softmax, float* out, int64_t out_capacity,
                      int64_t* num_labels, char* err, size_t err_len) {
  try {
    c10::InferenceMode inference_guard;
    // The graph executor's profiling passes re-specialise the graph on new shapes and can fuse ops
    // past the autocast dispatch; a traced BERT gains nothing from them at inference. The switch
    // is thread-local, so it is set here, on the thread that runs the forward, for this call.
    torch::jit::GraphOptimizerEnabledGuard no_graph_optimizer(false);
#ifdef TCE_WITH_CUDA
    // This model's stream and device for the copies, the kernels and the read-back below.
    std::optional<c10::cuda::CUDAStreamGuard> on_stream;
    if (model->stream) on_stream.emplace(*model->stream);
#endif
    const auto host = torch::TensorOptions().dtype(torch::kInt64);
    const int64_t count = batch * seq_len;
    std::vector<c10::IValue> inputs;
    if (model->device.is_cuda()) {
      if (!model->staging.defined() || model->staging.numel() < 3 * count) {
        model->staging = torch::empty({3 * count}, host).pin_memory();
      }
      int64_t* staged = model->staging.data_ptr<int64_t>();
      std::memcpy(staged, input_ids, sizeof(int64_t) * count);
      std::memcpy(staged + count, attention_mask, sizeof(int64_t) * count);
      std::memcpy(staged + 2 * count, token_type_ids, sizeof(int64_t) * count);
      // The copy is queued on the model's stream ahead of the forward's kernels; reading the
      // scores back below waits for both, so the staging memory is free again on return.
      auto device_inputs = model->staging.narrow(0, 0, 3 * count)
                               .view({3, batch, seq_len})
                               .to(model->device, /*non_blocking=*/true);
      inputs = {device_inputs[0], device_inputs[1], device_inputs[2]};
    } else {
      auto wrap = [&](const int64_t* data) {
        return torch::from_blob(const_cast<int64_t*>(data), {batch, seq_len}, host);
      };
      inputs = {wrap(input_ids), wrap(attention_mask), wrap(token_type_ids)};
    }
    torch::Tensor scores;
    {
      AutocastScope autocast(model->device, model->precision);
      scores = first_tensor(model->module.forward(inputs));
    }
    if (scores.dim() == 1) scores = scores.unsqueeze(1);
    if (scores.dim() != 2 || scores.size(0) != batch) {
      write_error(err, err_len,
                  "model.pt returned logits of shape " + c10::str(scores.sizes()) +
                      " for a batch of " + std::to_string(batch) + "; expected [batch, num_labels]");
      wait_for_model_stream(model);  // the upload may still read the staging buffer
      return TCE_ERROR;
    }
    scores = activate(scores, activation, apply_softmax != 0).to(torch::kCPU).contiguous();
    if (scores.numel() > out_capacity) {
      write_error(err, err_len,
                  "model.pt returned " + std::to_string(scores.size(1)) +
                      " labels per pair, more than the model's config.json declares");
      return TCE_ERROR;
    }
    std::memcpy(out, scores.data_ptr<float>(), sizeof(float) * scores.numel());
    *num_labels = scores.size(1);
    return TCE_OK;
  } catch (const c10::OutOfMemoryError& e) {
    wait_for_model_stream(model);
    write_error(err, err_len, message_of(e));
    return TCE_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    wait_for_model_stream(model);
    const std::string message = message_of(e);
    write_error(err, err_len, message);
    return is_out_of_memory_message(message) ? TCE_OUT_OF_MEMORY : TCE_ERROR;
  }
}

void tce_model_free(tce_model* model) {
  if (model == nullptr) return;
  try {
    // The model's memory goes back to libtorch's caching allocator, where other models in this
    // process reuse it; emptying the whole cache here would also take other models' blocks.
    wait_for_model_stream(model);
    delete model;
  } catch (...) {
  }
}

}  // extern "C"
