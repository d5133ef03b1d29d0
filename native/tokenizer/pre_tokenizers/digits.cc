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
    out.Clear();
    std::vector<std::pair<size_t, size_t>> delimiters;
    for (const Word& w : in.list) {
      const std::string_view text = in.View(w);
      const auto* base = reinterpret_cast<const unsigned char*>(text.data());
      delimiters.clear();
      for (size_t at = 0; at < text.size();) {
        size_t len;
        const char32_t c = unicode::DecodeUtf8(base + at, base + text.size(), &len);
        if (unicode::IsNumber(c)) delimiters.emplace_back(at, at + len);
        at += len;
      }
      SplitAt(text, w.at_start, delimiters, individual_ ? Delimiter::kIsolated : Delimiter::kContiguous, out);
    }
  }

 private:
  bool individual_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeDigits(const Settings& s) {
  return std::make_unique<Digits>(s.Bool("individual_digits", false));
}

}  // namespace tce::tok
