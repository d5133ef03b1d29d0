// Punctuation: every punctuation character (BERT's definition: ASCII punctuation and P*) is a
// delimiter of its own, kept as `behavior` says (Isolated by default).
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

class Punctuation final : public PreTokenizer {
 public:
  explicit Punctuation(Delimiter behavior) : behavior_(behavior) {}

  void Split(const Words& in, Words& out) const override {
    SplitOnChars(in, unicode::IsPunctuation, behavior_, out);
  }

 private:
  Delimiter behavior_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakePunctuation(const Settings& s) {
  return std::make_unique<Punctuation>(s.Has("behavior") ? ReadDelimiter(s) : Delimiter::kIsolated);
}

}  // namespace tce::tok
