// Loads libtorch (by absolute paths found by lib/libtorch.ts) and then the torch core, and keeps
// the core's C API as function pointers. Loading is process-wide and happens at most once: two
// libtorch builds cannot live in one process.
#pragma once

#include <string>
#include <vector>

#include "core/tce_core.h"

namespace tce {

struct CoreApi {
  uint32_t (*core_abi)(void);
  const char* (*core_torch_version)(void);
  int (*cuda_device_count)(void);
  int (*cuda_device_info)(int, char*, size_t, uint64_t*, uint64_t*, char*, size_t);
  void (*set_num_threads)(int);
  int (*get_num_threads)(void);
  int (*tf32_claim)(const char*, int, int, char*, size_t);
  void (*tf32_release)(const char*, int, int);
  tce_model* (*model_load)(const char*, const char*, int, int, char*, size_t);
  int (*model_submit)(tce_model*, int, const int64_t*, const int64_t*, const int64_t*, int64_t,
                      int64_t, int, int, char*, size_t);
  int (*model_collect)(tce_model*, int, float*, int64_t, int64_t*, char*, size_t);
  void (*model_discard)(tce_model*, int);
  void (*model_free)(tce_model*);
};

// Loads each of `libraries` (RTLD_GLOBAL, in order) and then `core_path`. Throws
// std::runtime_error with dlerror() text on failure. A second call with the same core is a no-op;
// with another core it throws.
const CoreApi& LoadCore(const std::vector<std::string>& libraries, const std::string& core_path);

// Guards one call into the core against process exit. process.exit() runs libtorch's static
// destructors while engine threads may still be inside a forward; an atexit handler (registered
// after libtorch loads, so it runs before those destructors) refuses new calls and waits, for a
// bounded time, for running ones. A thread whose guard is false must not call the core: it calls
// ParkUntilExit() instead.
class CoreCall {
 public:
  CoreCall();
  ~CoreCall();
  explicit operator bool() const { return entered_; }
  CoreCall(const CoreCall&) = delete;
  CoreCall& operator=(const CoreCall&) = delete;

 private:
  bool entered_ = false;
};

[[noreturn]] void ParkUntilExit();

// Registers the atexit fallback again, once, after the process's first forward: libtorch and
// oneDNN create function-local statics during it, whose destructors would otherwise run before
// the fallback registered at load. (The JS 'exit' hook covers models of the main thread; this
// covers models that live only in worker threads.)
void ArmExitGateAfterFirstForward();

// Refuses new core calls from now on and waits up to `timeout_ms` for running ones. Called from
// process 'exit' (before any static destructor runs) and, as a fallback, from atexit.
void QuiesceCore(int timeout_ms);

// The loaded core, or nullptr before LoadCore succeeded.
const CoreApi* LoadedCore();
const std::string& LoadedCorePath();

}  // namespace tce
