#include "device_facts.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>

#include "errors.h"
#include "tce_core.h"

#ifdef TCE_WITH_CUDA
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cstdio>
#endif

namespace tce::core {

namespace {

// libtorch's TF32 switch for cuBLAS matmuls is process-wide: the CUDA fp32 models of a process
// share one setting, held by their claims. Never destroyed: models may be freed while static
// destructors run at exit.
struct Tf32Claims {
  std::mutex mutex;
  int count = 0;
  bool tf32 = false;
};

Tf32Claims& tf32_claims() {
  static Tf32Claims* claims = new Tf32Claims;
  return *claims;
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

bool shares_tf32_switch(const char* device, int precision) {
  return precision == TCE_PRECISION_FP32 && device != nullptr && std::strncmp(device, "cuda", 4) == 0;
}

bool apply_tf32_claim(bool tf32) {
  Tf32Claims& claims = tf32_claims();
  std::lock_guard<std::mutex> lock(claims.mutex);
  if (claims.count == 0 || claims.tf32 != tf32) return false;
  set_tf32(claims.tf32);
  return true;
}

}  // namespace tce::core

using tce::core::message_of;
using tce::core::write_error;

extern "C" {

int tce_cuda_device_count(void) {
  try {
    return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  } catch (...) {
    return 0;
  }
}

int tce_cuda_device_info(int index, char* name, size_t name_len, uint64_t* total_bytes,
                         uint64_t* free_bytes, char* err, size_t err_len) {
  return tce::core::guarded("tce_cuda_device_info", err, err_len, static_cast<int>(TCE_ERROR), [&]() -> int {
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
    *free_bytes = tce::core::Nvml::instance().free_bytes(props);
#else
    // A core built without CUDA headers can still see devices through libtorch, not their names.
    write_error(name, name_len, "CUDA device " + std::to_string(index));
    *total_bytes = 0;
    *free_bytes = UINT64_MAX;
#endif
    return TCE_OK;
  });
}

int tce_tf32_claim(const char* device, int precision, int tf32, char* err, size_t err_len) {
  return tce::core::guarded("tce_tf32_claim", err, err_len, static_cast<int>(TCE_ERROR), [&]() -> int {
    if (!tce::core::shares_tf32_switch(device, precision)) return TCE_OK;
    tce::core::Tf32Claims& claims = tce::core::tf32_claims();
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
  });
}

void tce_tf32_release(const char* device, int precision, int tf32) {
  (void)tf32;
  // Nothing to report through this signature: only the mutex can throw here (std::system_error).
  try {
    if (!tce::core::shares_tf32_switch(device, precision)) return;
    tce::core::Tf32Claims& claims = tce::core::tf32_claims();
    std::lock_guard<std::mutex> lock(claims.mutex);
    if (claims.count == 0) return;
    if (--claims.count > 0) return;
    // The last claim is gone: back to libtorch's default (off), whichever setting was in force.
    try {
      if (claims.tf32) tce::core::set_tf32(false);
    } catch (...) {
    }
    claims.tf32 = false;
  } catch (...) {
  }
}

}  // extern "C"
