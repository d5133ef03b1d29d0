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
    out.Clear();
    std::vector<std::pair<size_t, size_t>> delimiters;
    for (const Word& w : in.list) {
      const std::string_view text = in.View(w);
      const auto* base = reinterpret_cast<const unsigned char*>(text.data());
      delimiters.clear();
      for (size_t at = 0; at < text.size();) {
        size_t len;
        const char32_t c = unicode::DecodeUtf8(base + at, base + text.size(), &len);
        if (unicode::IsPunctuation(c)) delimiters.emplace_back(at, at + len);
        at += len;
      }
      SplitAt(text, w.at_start, delimiters, behavior_, out);
    }
  }

 private:
  Delimiter behavior_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakePunctuation(const Settings& s) {
  return std::make_unique<Punctuation>(s.Has("behavior") ? ReadDelimiter(s) : Delimiter::kIsolated);
}

}  // namespace tce::tok
