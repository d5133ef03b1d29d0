// Digits: numeric characters (N*) apart from the rest; each on its own with individual_digits,
// else runs of them together.
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

class Digits final : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}

  void Split(const Words& in, Words& out) const override {
    SplitOnChars(in, unicode::IsNumber, individual_ ? Delimiter::kIsolated : Delimiter::kContiguous, out);
  }

 private:
  bool individual_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeDigits(const Settings& s) {
  return std::make_unique<Digits>(s.Bool("individual_digits", false));
}

}  // namespace tce::tok
