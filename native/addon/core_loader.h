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
  tce_model* (*model_load)(const char*, const char*, int, char*, size_t);
  int (*model_forward)(tce_model*, const int64_t*, const int64_t*, const int64_t*, int64_t,
                       int64_t, int, int, float*, int64_t, int64_t*, char*, size_t);
  void (*model_free)(tce_model*);
};

// Loads each of `libraries` (RTLD_GLOBAL, in order) and then `core_path`. Throws
// std::runtime_error with dlerror() text on failure. A second call with the same core is a no-op;
// with another core it throws.
const CoreApi& LoadCore(const std::vector<std::string>& libraries, const std::string& core_path);

// The loaded core, or nullptr before LoadCore succeeded.
const CoreApi* LoadedCore();
const std::string& LoadedCorePath();

}  // namespace tce
