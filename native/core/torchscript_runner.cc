// model.pt: a TorchScript module traced by scripts/export.py (forward(<input_names>) ->
// (logits,)), run by libtorch's interpreter.
#include <torch/script.h>

#include <stdexcept>

#include "precision.h"
#include "runner.h"
#include "tce_core.h"

namespace tce::core {

namespace {

at::Tensor first_tensor(const c10::IValue& output) {
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

class TorchScriptRunner : public Runner {
 public:
  TorchScriptRunner(const ModelFile& file, const c10::Device& device, int precision)
      : device_(device), precision_(precision) {
    // The export metadata names the inputs the graph takes (scripts/export.py writes
    // input_names); exports from before it was written take all three.
    torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
    module_ = torch::jit::load(file.path(), device, extra);
    module_.eval();
    const std::string where = "model.pt's metadata (extra/metadata.json)";
    std::optional<std::vector<std::string>> names;
    try {
      if (!extra["metadata.json"].empty()) names = json_string_list(extra["metadata.json"], "input_names");
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(where + ": " + e.what());
    }
    inputs_ = names ? input_kinds(*names, where) : std::vector<InputKind>{kInputIds, kAttentionMask, kTokenTypeIds};
    // The graph must take what the metadata names: say so at load rather than at the first forward.
    const size_t takes = module_.get_method("forward").function().getSchema().arguments().size() - 1;
    if (takes != inputs_.size()) {
      throw std::runtime_error("model.pt's forward takes " + std::to_string(takes) + " inputs, but its metadata names " +
                               std::to_string(inputs_.size()) + " (" + describe_inputs(inputs_) +
                               "). Re-export it with scripts/export.py.");
    }
    upcast_stored_half(module_);
    if (precision != TCE_PRECISION_FP32) cast_linear_weights(module_, autocast_dtype(precision));
  }

  at::Tensor forward(const std::vector<at::Tensor>& inputs, void* /*cuda_stream: current*/) override {
    std::vector<c10::IValue> values(inputs.begin(), inputs.end());
    AutocastScope autocast(device_, precision_);
    return first_tensor(module_.forward(values));
  }

  const char* file_kind() const override { return "model.pt"; }

 private:
  torch::jit::script::Module module_;
  c10::Device device_;
  int precision_;
};

}  // namespace

std::unique_ptr<Runner> load_torchscript(const ModelFile& file, const c10::Device& device, int precision) {
  return std::make_unique<TorchScriptRunner>(file, device, precision);
}

}  // namespace tce::core
