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
#include <array>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#define TCE_STR2(x) #x
#define TCE_STR(x) TCE_STR2(x)
#define TCE_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||      \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

#ifdef TCE_WITH_CUDA
namespace {

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

}  // namespace
#endif

// One of the two batches a model can have in flight (tce_model_submit / tce_model_collect).
struct tce_slot {
  bool busy = false;  // submitted, not yet collected or discarded
  int64_t batch = 0;
  int64_t seq_len = 0;
  int activation = TCE_ACTIVATION_IDENTITY;
  bool apply_softmax = false;
  // CPU: the caller's arrays, which it keeps unchanged until collect, where the forward runs.
  const int64_t* input_ids = nullptr;
  const int64_t* attention_mask = nullptr;
  const int64_t* token_type_ids = nullptr;
  // CUDA: page-locked host memory for the three inputs (one non-blocking upload) and for the
  // float32 scores (one non-blocking read-back), reused across batches and grown when a batch
  // needs more; the event recorded after the read-back; the labels the forward returned.
  torch::Tensor staging;
  torch::Tensor scores;
  int64_t num_labels = 0;
#ifdef TCE_WITH_CUDA
  SlotEvent done;
#endif
};

struct tce_model {
  torch::jit::script::Module module;
  c10::Device device{c10::kCPU};
  int precision = TCE_PRECISION_FP32;
  std::array<tce_slot, TCE_SLOTS> slots;
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

// The model's output for `inputs` as float32 scores [batch, labels] on its device, after the
// activation. Called with the thread-local guards of a forward in place (ForwardScope).
torch::Tensor score(tce_model* model, const std::vector<c10::IValue>& inputs, int64_t batch,
                    int activation, bool apply_softmax) {
  torch::Tensor logits;
  {
    AutocastScope autocast(model->device, model->precision);
    logits = first_tensor(model->module.forward(inputs));
  }
  if (logits.dim() == 1) logits = logits.unsqueeze(1);
  if (logits.dim() != 2 || logits.size(0) != batch) {
    throw std::runtime_error("model.pt returned logits of shape " + c10::str(logits.sizes()) +
                             " for a batch of " + std::to_string(batch) +
                             "; expected [batch, num_labels]");
  }
  return activate(logits, activation, apply_softmax).contiguous();
}

// What a forward sets on the calling thread, for its length: no autograd, no profiling graph
// executor (its passes re-specialise the graph on new shapes and can fuse ops past the autocast
// dispatch; a traced BERT gains nothing from them at inference), and on CUDA the model's stream
// and device for the copies and kernels. All of them are thread-local.
class ForwardScope {
 public:
  explicit ForwardScope(tce_model* model) : no_graph_optimizer_(false) {
#ifdef TCE_WITH_CUDA
    if (model->stream) on_stream_.emplace(*model->stream);
#else
    (void)model;
#endif
  }

 private:
  c10::InferenceMode inference_;
  torch::jit::GraphOptimizerEnabledGuard no_graph_optimizer_;
#ifdef TCE_WITH_CUDA
  std::optional<c10::cuda::CUDAStreamGuard> on_stream_;
#endif
};

// Copies float32 scores [batch, labels] to the caller's buffer, within its capacity.
int copy_scores(const float* scores, int64_t batch, int64_t labels, float* out,
                int64_t out_capacity, int64_t* num_labels, char* err, size_t err_len) {
  if (batch * labels > out_capacity) {
    write_error(err, err_len,
                "model.pt returned " + std::to_string(labels) +
                    " labels per pair, more than the model's config.json declares");
    return TCE_ERROR;
  }
  std::memcpy(out, scores, sizeof(float) * static_cast<size_t>(batch * labels));
  *num_labels = labels;
  return TCE_OK;
}

// The status and message of a failed forward: out of memory (the caller may split the batch)
// as libtorch's allocator or a library reports it, or any other error.
int forward_failure(const std::exception& e, char* err, size_t err_len) {
  const std::string message = message_of(e);
  write_error(err, err_len, message);
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) return TCE_OUT_OF_MEMORY;
  return is_out_of_memory_message(message) ? TCE_OUT_OF_MEMORY : TCE_ERROR;
}

tce_slot* slot_of(tce_model* model, int slot, char* err, size_t err_len) {
  if (slot < 0 || slot >= TCE_SLOTS) {
    write_error(err, err_len, "no slot " + std::to_string(slot) + " (a model has " +
                                  std::to_string(TCE_SLOTS) + ")");
    return nullptr;
  }
  return &model->slots[static_cast<size_t>(slot)];
}

#ifdef TCE_WITH_CUDA
// Page-locked host memory of at least `count` elements, reused when it is large enough.
void ensure_pinned(torch::Tensor& buffer, int64_t count, c10::ScalarType dtype) {
  if (buffer.defined() && buffer.numel() >= count) return;
  buffer = torch::Tensor();  // back to libtorch's host cache before the larger one is taken
  buffer = torch::empty({count}, torch::TensorOptions().dtype(dtype).pinned_memory(true));
}

// Stages the batch in the slot's page-locked memory, uploads it and launches the forward and the
// read-back of its scores on the model's stream, then records the slot's event. Never waits
// for the device. The staging memory is free: the slot's last batch was collected or discarded.
void submit_cuda(tce_model* model, tce_slot& slot, const int64_t* input_ids,
                 const int64_t* attention_mask, const int64_t* token_type_ids) {
  const int64_t count = slot.batch * slot.seq_len;
  ensure_pinned(slot.staging, 3 * count, torch::kInt64);
  int64_t* staged = slot.staging.data_ptr<int64_t>();
  std::memcpy(staged, input_ids, sizeof(int64_t) * count);
  std::memcpy(staged + count, attention_mask, sizeof(int64_t) * count);
  std::memcpy(staged + 2 * count, token_type_ids, sizeof(int64_t) * count);
  auto device_inputs = slot.staging.narrow(0, 0, 3 * count)
                           .view({3, slot.batch, slot.seq_len})
                           .to(model->device, /*non_blocking=*/true);
  const torch::Tensor scores = score(model, {device_inputs[0], device_inputs[1], device_inputs[2]},
                                     slot.batch, slot.activation, slot.apply_softmax);
  ensure_pinned(slot.scores, scores.numel(), torch::kFloat32);
  // Queued behind the forward on the model's stream: the host does not wait for it here.
  slot.scores.narrow(0, 0, scores.numel()).view(scores.sizes()).copy_(scores, /*non_blocking=*/true);
  slot.num_labels = scores.size(1);
  slot.done.record(model->stream->stream());
}
#endif

// libtorch's TF32 switch for cuBLAS matmuls is process-wide: the CUDA fp32 models of a process
// share one setting, held by their claims (tce_tf32_claim). Never destroyed: models may be freed
// while static destructors run at exit.
struct Tf32Claims {
  std::mutex mutex;
  int count = 0;
  bool tf32 = false;
};

Tf32Claims& tf32_claims() {
  static Tf32Claims* claims = new Tf32Claims;
  return *claims;
}

// Only float32 CUDA forwards run matmuls in float32; under autocast they run in fp16/bf16.
bool shares_tf32_switch(const char* device, int precision) {
  return precision == TCE_PRECISION_FP32 && device != nullptr && std::strncmp(device, "cuda", 4) == 0;
}

void set_tf32(bool on) { at::globalContext().setAllowTF32CuBLAS(on); }

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

int tce_tf32_claim(const char* device, int precision, int tf32, char* err, size_t err_len) {
  if (!shares_tf32_switch(device, precision)) return TCE_OK;
  Tf32Claims& claims = tf32_claims();
  std::lock_guard<std::mutex> lock(claims.mutex);
  if (claims.count > 0 && claims.tf32 != (tf32 != 0)) {
    const char* mine = tf32 ? "true" : "false";
    const char* theirs = claims.tf32 ? "true" : "false";
    write_error(err, err_len,
                std::string("tf32: ") + mine + " conflicts with " + std::to_string(claims.count) +
                    " CUDA fp32 model(s) of this process loaded with tf32: " + theirs +
                    ". libtorch's TF32 switch is process-wide, so every CUDA fp32 model of a "
                    "process must use the same tf32 setting: dispose the other model(s) first, "
                    "or load this one with tf32: " + theirs + ".");
    return TCE_OPTION_CONFLICT;
  }
  claims.tf32 = tf32 != 0;
  ++claims.count;
  return TCE_OK;
}

void tce_tf32_release(const char* device, int precision, int tf32) {
  if (!shares_tf32_switch(device, precision)) return;
  Tf32Claims& claims = tf32_claims();
  std::lock_guard<std::mutex> lock(claims.mutex);
  if (claims.count == 0) return;
  if (--claims.count > 0) return;
  // The last claim is gone: back to libtorch's default (off), whichever setting was in force.
  try {
    if (claims.tf32) set_tf32(false);
  } catch (...) {
  }
  claims.tf32 = false;
}

tce_model* tce_model_load(const char* path, const char* device, int precision, int tf32,
                          char* err, size_t err_len) {
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
    if (shares_tf32_switch(device, precision)) {
      // Set here, under the claims' lock, so that a concurrent last release cannot undo it.
      Tf32Claims& claims = tf32_claims();
      std::lock_guard<std::mutex> lock(claims.mutex);
      if (claims.count == 0 || claims.tf32 != (tf32 != 0)) {
        write_error(err, err_len, "internal error: a CUDA fp32 model was loaded without its TF32 claim");
        return nullptr;
      }
      set_tf32(claims.tf32);
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

int tce_model_submit(tce_model* model, int slot_index, const int64_t* input_ids,
                     const int64_t* attention_mask, const int64_t* token_type_ids, int64_t batch,
                     int64_t seq_len, int activation, int apply_softmax, char* err,
                     size_t err_len) {
  tce_slot* slot = slot_of(model, slot_index, err, err_len);
  if (slot == nullptr) return TCE_ERROR;
  if (slot->busy) {
    write_error(err, err_len, "slot " + std::to_string(slot_index) + " is still in flight");
    return TCE_ERROR;
  }
  slot->batch = batch;
  slot->seq_len = seq_len;
  slot->activation = activation;
  slot->apply_softmax = apply_softmax != 0;
  if (!model->device.is_cuda()) {
    // The CPU has nothing to overlap with: the forward runs when the scores are asked for.
    slot->input_ids = input_ids;
    slot->attention_mask = attention_mask;
    slot->token_type_ids = token_type_ids;
    slot->busy = true;
    return TCE_OK;
  }
#ifdef TCE_WITH_CUDA
  try {
    ForwardScope scope(model);
    submit_cuda(model, *slot, input_ids, attention_mask, token_type_ids);
    slot->busy = true;
    return TCE_OK;
  } catch (const std::exception& e) {
    wait_for_model_stream(model);
    return forward_failure(e, err, err_len);
  }
#else
  write_error(err, err_len, "this core was built without CUDA");
  return TCE_ERROR;
#endif
}

int tce_model_collect(tce_model* model, int slot_index, float* out, int64_t out_capacity,
                      int64_t* num_labels, char* err, size_t err_len) {
  tce_slot* slot = slot_of(model, slot_index, err, err_len);
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
      return copy_scores(slot->scores.data_ptr<float>(), slot->batch, slot->num_labels, out,
                         out_capacity, num_labels, err, err_len);
    }
#endif
    ForwardScope scope(model);
    const auto host = torch::TensorOptions().dtype(torch::kInt64);
    auto wrap = [&](const int64_t* data) {
      return torch::from_blob(const_cast<int64_t*>(data), {slot->batch, slot->seq_len}, host);
    };
    const torch::Tensor scores =
        score(model, {wrap(slot->input_ids), wrap(slot->attention_mask), wrap(slot->token_type_ids)},
              slot->batch, slot->activation, slot->apply_softmax);
    return copy_scores(scores.data_ptr<float>(), slot->batch, scores.size(1), out, out_capacity,
                       num_labels, err, err_len);
  } catch (const std::exception& e) {
    return forward_failure(e, err, err_len);
  }
}

void tce_model_discard(tce_model* model, int slot_index) {
  if (model == nullptr || slot_index < 0 || slot_index >= TCE_SLOTS) return;
  tce_slot& slot = model->slots[static_cast<size_t>(slot_index)];
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
