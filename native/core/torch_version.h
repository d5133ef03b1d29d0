// The libtorch version the core is compiled against, for the few APIs that differ between
// 1.13 and 2.x.
#pragma once

#include <torch/csrc/api/include/torch/version.h>

#define TCE_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||      \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))
