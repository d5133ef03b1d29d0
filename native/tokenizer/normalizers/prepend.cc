// Prepend: puts a string before non-empty text.
#include "tokenizer/normalizers/normalizer.h"

namespace tce::tok {

namespace {

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    if (!in.empty()) out.append(prefix_);
    out.append(in);
  }

 private:
  std::string prefix_;
};

}  // namespace

std::unique_ptr<Normalizer> MakePrepend(const Settings& s) {
  return std::make_unique<Prepend>(s.RequiredString("prepend"));
}

}  // namespace tce::tok
