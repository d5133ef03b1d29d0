// Facts about the machine's devices and the process-wide settings models share: CUDA devices
// (tce_cuda_device_count / tce_cuda_device_info) and libtorch's TF32 switch (tce_tf32_claim /
// tce_tf32_release), whose C functions live in device_facts.cc.
#pragma once

namespace tce::core {

// Whether a model of this device and precision shares libtorch's process-wide TF32 switch: only
// float32 CUDA forwards run matmuls in float32 (under autocast they run in fp16/bf16).
bool shares_tf32_switch(const char* device, int precision);

// At the load of a model that shares the switch: checks that it holds a claim for `tf32` and sets
// the switch, under the claims' lock, so that a concurrent last release cannot undo it. False
// when no matching claim is held (a bug of the caller).
bool apply_tf32_claim(bool tf32);

}  // namespace tce::core
