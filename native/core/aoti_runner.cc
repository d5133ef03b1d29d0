// model.pt2: an AOTInductor package (torch.export + torch._inductor.aoti_compile_and_package,
// scripts/export.py --format pt2), compiled ahead of time for one device type and one precision,
// run by libtorch's AOTIModelPackageLoader. Built only for libtorch 2.6 and later
// (TCE_WITH_AOTI, set by CMakeLists.txt when the loader's header is there); older cores refuse a
// package with a message that names the libtorch needed.
#include <stdexcept>
#include <string>

#include "runner.h"
#include "tce_core.h"
#include "torch_version.h"

#ifdef TCE_WITH_AOTI
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#endif

namespace tce::core {

#ifdef TCE_WITH_AOTI
namespace {

const char* precision_name(int precision) {
  return precision == TCE_PRECISION_FP16 ? "fp16" : precision == TCE_PRECISION_BF16 ? "bf16" : "fp32";
}

std::string value_or(const std::unordered_map<std::string, std::string>& map, const std::string& key,
                     const std::string& fallback) {
  const auto found = map.find(key);
  return found == map.end() ? fallback : found->second;
}

// The device type and precision the package was compiled for must be the model's: its kernels
// were generated for one of each. Checked from the package's metadata before its code is loaded.
void check_compiled_for(const std::unordered_map<std::string, std::string>& metadata, const c10::Device& device,
                        int precision) {
  const std::string compiled = value_or(metadata, "AOTI_DEVICE_KEY", "cpu");
  const std::string wanted = device.is_cuda() ? "cuda" : "cpu";
  if (compiled != wanted) {
    throw std::runtime_error(
        "model.pt2 was compiled for " + std::string(compiled == "cuda" ? "CUDA" : compiled) +
        " and runs only there; it cannot run on " + (device.is_cuda() ? "CUDA" : "the CPU") +
        ". Load it with device: '" + (compiled == "cuda" ? "cuda" : "cpu") +
        "', or export a package for this device (python3 scripts/export.py SOURCE OUT --format pt2 --device " + wanted + ").");
  }
  const std::string compiled_precision = value_or(metadata, "tce_precision", "fp32");
  if (compiled_precision != precision_name(precision)) {
    throw std::runtime_error(
        "model.pt2 was compiled to compute in " + compiled_precision + ", and a package computes only in the precision "
        "it was exported in: load it with precision: '" + compiled_precision + "', or export it again with --precision " +
        precision_name(precision) + ".");
  }
}

// A sequence bound scripts/export.py records (tce_max_sequence, tce_min_sequence): a positive
// decimal number, or 0 when the package does not record it. Anything else ("512x", "-1") is a
// damaged or foreign package, never a bound to ignore.
int64_t sequence_bound(const std::unordered_map<std::string, std::string>& metadata, const std::string& key) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) return 0;
  const std::string& text = found->second;
  int64_t value = 0;
  bool valid = !text.empty() && text.size() <= 9;
  for (char c : text) {
    if (c < '0' || c > '9') valid = false;
    if (valid) value = value * 10 + (c - '0');
  }
  if (!valid || value <= 0) {
    throw std::runtime_error("model.pt2's metadata: " + key + " is not a positive whole number; export it again");
  }
  return value;
}

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> names;
  size_t start = 0;
  for (size_t comma; (comma = text.find(',', start)) != std::string::npos; start = comma + 1) {
    names.push_back(text.substr(start, comma - start));
  }
  names.push_back(text.substr(start));
  return names;
}

class AotiRunner : public Runner {
 public:
  AotiRunner(const ModelFile& file, const c10::Device& device, int precision) {
    // The package extracts its compiled library and loads it: what it was compiled for is read
    // first, so that a CUDA package is never loaded into a CPU-only process.
#if TCE_AOTI_METADATA_FROM_PACKAGE
    check_compiled_for(torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(file.path(), "model"),
                       device, precision);
#endif
#if TCE_AOTI_DEVICE_INDEX
    const c10::DeviceIndex index = device.is_cuda() && device.has_index() ? device.index() : c10::DeviceIndex(-1);
    // One runner per slot, so that the two slots' forwards do not queue behind one another: the
    // runners share the package's weights, each has its own activations.
    loader_ = std::make_unique<torch::inductor::AOTIModelPackageLoader>(file.path(), "model", false,
                                                                        static_cast<size_t>(TCE_SLOTS), index);
#else
    loader_ = std::make_unique<torch::inductor::AOTIModelPackageLoader>(file.path());
#endif
    const auto metadata = loader_->get_metadata();
    check_compiled_for(metadata, device, precision);
    // The package's call spec names its keyword inputs, in the order run() takes them; a package
    // exported with positional inputs names them in its metadata (tce_input_names).
    const std::vector<std::string> spec = loader_->get_call_spec();
    auto names = spec.empty() ? std::nullopt : call_spec_keywords(spec[0]);
    if (names) {
      inputs_ = input_kinds(*names, "model.pt2's call spec");
    } else {
      // Positional inputs: named by the metadata, else BERT's three in their usual order; either
      // way as many as the call spec's positional leaves.
      inputs_ = metadata.count("tce_input_names") > 0
                    ? input_kinds(split_names(metadata.at("tce_input_names")), "model.pt2's metadata (tce_input_names)")
                    : std::vector<InputKind>{kInputIds, kAttentionMask, kTokenTypeIds};
      const std::optional<size_t> positional = spec.empty() ? std::nullopt : call_spec_positional_count(spec[0]);
      if (positional && *positional != inputs_.size()) {
        throw std::runtime_error("model.pt2 takes " + std::to_string(*positional) + " positional inputs, but " +
                                 std::to_string(inputs_.size()) + " are named for it (" + describe_inputs(inputs_) +
                                 "); export it again with scripts/export.py");
      }
    }
    // The package's dynamic sequence dimension ends here (scripts/export.py records it); its
    // compiled code does not check it, and a longer batch would read past the position table.
    max_sequence_ = sequence_bound(metadata, "tce_max_sequence");
    min_sequence_ = sequence_bound(metadata, "tce_min_sequence");
    if (max_sequence_ > 0 && min_sequence_ > max_sequence_) {
      throw std::runtime_error("model.pt2's metadata: tce_min_sequence is above tce_max_sequence; export it again");
    }
  }

  at::Tensor forward(const std::vector<at::Tensor>& inputs, void* cuda_stream) override {
    if (max_sequence_ > 0 && !inputs.empty() && inputs[0].size(1) > max_sequence_) {
      throw std::runtime_error("model.pt2 was exported for sequences of at most " + std::to_string(max_sequence_) +
                               " tokens, and this batch has " + std::to_string(inputs[0].size(1)) +
                               ": load it with maxLength: " + std::to_string(max_sequence_) + " or less");
    }
    // The lower bound of the dynamic sequence dimension: the compiled code does not check it
    // either. The JS pipeline never sends fewer than 3 tokens (maxLength >= 3, a pair's special
    // tokens), so only a direct caller of the C API meets this.
    if (min_sequence_ > 0 && !inputs.empty() && inputs[0].size(1) < min_sequence_) {
      throw std::runtime_error("model.pt2 was exported for sequences of at least " + std::to_string(min_sequence_) +
                               " tokens, and this batch has " + std::to_string(inputs[0].size(1)));
    }
    std::vector<at::Tensor> outputs = loader_->run(inputs, cuda_stream);
    if (outputs.empty()) throw std::runtime_error("model.pt2 returned no outputs; expected the logits");
    return outputs[0];
  }

  const char* file_kind() const override { return "model.pt2"; }

 private:
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader_;
  int64_t max_sequence_ = 0;  // 0: not recorded (the package checks nothing either)
  int64_t min_sequence_ = 0;  // 0: not recorded
};

}  // namespace

std::unique_ptr<Runner> load_aoti_package(const ModelFile& file, const c10::Device& device, int precision) {
  return std::make_unique<AotiRunner>(file, device, precision);
}

#else

std::unique_ptr<Runner> load_aoti_package(const ModelFile& file, const c10::Device&, int) {
  throw std::runtime_error(
      file.path() + " is an AOTInductor package (.pt2), which needs a torch core built for libtorch 2.6 or later; "
      "this core was built for libtorch " + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
      ". Run on a newer libtorch (TCE_LIBTORCH, e.g. pip's torch), or use a TorchScript export (model.pt: "
      "python3 scripts/export.py SOURCE OUT --format torchscript --target-libtorch " + std::to_string(TORCH_VERSION_MAJOR) +
      "." + std::to_string(TORCH_VERSION_MINOR) + ").");
}

#endif

}  // namespace tce::core
