// One loaded model graph behind one interface, whatever its format: a TorchScript module
// (model.pt, torchscript_runner.cc) or an AOTInductor package (model.pt2, aoti_runner.cc, only in
// cores built for libtorch 2.6 or later). The core's batching, slots, activation and scores path
// (tce_core.cpp) is the same for both.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "model_file.h"

namespace tce::core {

class Runner {
 public:
  virtual ~Runner() = default;

  // The inputs the graph takes, in the order it takes them (a subset of input_ids,
  // attention_mask, token_type_ids).
  const std::vector<InputKind>& inputs() const { return inputs_; }

  // The logits [batch, num_labels] (or [batch]) for `inputs`, given in inputs() order, on the
  // model's device. Called on the model's thread with ForwardScope in place; `cuda_stream` is the
  // model's CUDA stream (cudaStream_t), nullptr on the CPU.
  virtual at::Tensor forward(const std::vector<at::Tensor>& inputs, void* cuda_stream) = 0;

  // "model.pt" / "model.pt2": how messages name the file.
  virtual const char* file_kind() const = 0;

 protected:
  std::vector<InputKind> inputs_;
};

// model.pt: loaded onto `device`, weights stored in half upcast, Linear weights cast for a
// fp16/bf16 `precision` (which then runs under autocast).
std::unique_ptr<Runner> load_torchscript(const ModelFile& file, const c10::Device& device, int precision);

// model.pt2: refused when it was compiled for another device type or precision, or when this core
// was built for a libtorch without AOTInductor (before 2.6).
std::unique_ptr<Runner> load_aoti_package(const ModelFile& file, const c10::Device& device, int precision);

}  // namespace tce::core
