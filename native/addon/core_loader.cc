#include "addon/core_loader.h"

#include <dlfcn.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace tce {

namespace {

std::mutex load_mutex;
CoreApi api{};
bool loaded = false;
std::string loaded_path;

// Never destroyed: engine threads may still use it while static destructors run at exit.
struct ExitGate {
  std::mutex mutex;
  std::condition_variable idle;
  int in_flight = 0;
  bool exiting = false;
};
ExitGate& gate() {
  static ExitGate* instance = new ExitGate;
  return *instance;
}

// Bounded: a GPU forward takes milliseconds, a large CPU one seconds.
void WaitForCoreCallsAtExit() { QuiesceCore(10000); }

std::string last_dlerror() {
  const char* text = dlerror();
  return text == nullptr ? std::string("unknown dlopen error") : std::string(text);
}

template <typename Fn>
void resolve(void* handle, const char* name, Fn*& slot, const std::string& core_path) {
  dlerror();
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    throw std::runtime_error("The torch core " + core_path + " lacks the symbol " + name + " (" +
                             last_dlerror() +
                             "): it was built from another version of torch-cross-encoder. "
                             "Rebuild it with `npm run build:core`.");
  }
  slot = reinterpret_cast<Fn*>(symbol);
}

}  // namespace

const CoreApi& LoadCore(const std::vector<std::string>& libraries, const std::string& core_path) {
  std::lock_guard<std::mutex> lock(load_mutex);
  if (loaded) {
    if (core_path == loaded_path) return api;
    throw std::runtime_error("A torch core is already loaded in this process (" + loaded_path +
                             "); another one (" + core_path +
                             ") cannot be loaded beside it: one process holds one libtorch.");
  }

  for (const auto& library : libraries) {
    // Dependencies of libtorch itself (CUDA, cuDNN, OpenMP) are found through libtorch's own
    // RUNPATH, so loading its few top-level libraries by absolute path is enough.
    if (dlopen(library.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      throw std::runtime_error("Could not load libtorch library " + library + ": " +
                               last_dlerror());
    }
  }

  void* handle = dlopen(core_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw std::runtime_error("Could not load the torch core " + core_path + ": " +
                             last_dlerror() +
                             ". If the message names a missing symbol or library, the core was "
                             "built for another libtorch: rebuild it with `npm run build:core`.");
  }

  CoreApi candidate{};
  resolve(handle, "tce_core_abi", candidate.core_abi, core_path);
  if (candidate.core_abi() != TCE_CORE_ABI) {
    dlclose(handle);
    throw std::runtime_error("The torch core " + core_path + " speaks C API version " +
                             std::to_string(candidate.core_abi()) + ", this addon " +
                             std::to_string(TCE_CORE_ABI) +
                             ". Rebuild the core with `npm run build:core`.");
  }
  resolve(handle, "tce_core_torch_version", candidate.core_torch_version, core_path);
  resolve(handle, "tce_cuda_device_count", candidate.cuda_device_count, core_path);
  resolve(handle, "tce_cuda_device_info", candidate.cuda_device_info, core_path);
  resolve(handle, "tce_set_num_threads", candidate.set_num_threads, core_path);
  resolve(handle, "tce_get_num_threads", candidate.get_num_threads, core_path);
  resolve(handle, "tce_tf32_claim", candidate.tf32_claim, core_path);
  resolve(handle, "tce_tf32_release", candidate.tf32_release, core_path);
  resolve(handle, "tce_model_load", candidate.model_load, core_path);
  resolve(handle, "tce_model_submit", candidate.model_submit, core_path);
  resolve(handle, "tce_model_collect", candidate.model_collect, core_path);
  resolve(handle, "tce_model_discard", candidate.model_discard, core_path);
  resolve(handle, "tce_model_free", candidate.model_free, core_path);

  // The handle is never closed: libtorch registers operators and static state that cannot be
  // unloaded safely.
  api = candidate;
  loaded = true;
  loaded_path = core_path;
  std::atexit(WaitForCoreCallsAtExit);
  return api;
}

CoreCall::CoreCall() {
  ExitGate& g = gate();
  std::lock_guard<std::mutex> lock(g.mutex);
  if (g.exiting) return;
  ++g.in_flight;
  entered_ = true;
}

CoreCall::~CoreCall() {
  if (!entered_) return;
  ExitGate& g = gate();
  std::lock_guard<std::mutex> lock(g.mutex);
  if (--g.in_flight == 0) g.idle.notify_all();
}

void ArmExitGateAfterFirstForward() {
  static std::once_flag armed;
  std::call_once(armed, [] { std::atexit(WaitForCoreCallsAtExit); });
}

void QuiesceCore(int timeout_ms) {
  ExitGate& g = gate();
  std::unique_lock<std::mutex> lock(g.mutex);
  g.exiting = true;
  g.idle.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return g.in_flight == 0; });
}

void ParkUntilExit() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

const CoreApi* LoadedCore() {
  std::lock_guard<std::mutex> lock(load_mutex);
  return loaded ? &api : nullptr;
}

const std::string& LoadedCorePath() {
  std::lock_guard<std::mutex> lock(load_mutex);
  return loaded_path;
}

}  // namespace tce
