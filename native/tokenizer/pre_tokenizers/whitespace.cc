// WhitespaceSplit: words between White_Space runs. Whitespace: the pattern \w+|[^\w\s]+ (Rust regex
// classes, not Oniguruma's: tokenizers compiles this one with the regex crate), i.e.
// runs of word characters and runs of other non-space characters, spaces dropped.
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

// Rust's \w: Alphabetic (Other_Alphabetic's circled and squared letters included), marks, Nd, Pc
// and the join controls: IsWordChar lacks the first, IsRegexWordChar (Oniguruma) the last.
bool RustWordChar(char32_t c) { return unicode::IsWordChar(c) || unicode::IsRegexWordChar(c); }

class Whitespace final : public PreTokenizer {
 public:
  explicit Whitespace(bool split_word_classes) : split_word_classes_(split_word_classes) {}

  void Split(const Words& in, Words& out) const override {
    out.Clear();
    for (const Word& w : in.list) {
      const std::string_view text = in.View(w);
      const auto* base = reinterpret_cast<const unsigned char*>(text.data());
      const auto* end = base + text.size();
      size_t start = 0;
      int current = -1;  // class of the run being built: 0 word, 1 other; -1 none
      for (size_t at = 0; at < text.size();) {
        size_t len;
        const char32_t c = unicode::DecodeUtf8(base + at, end, &len);
        const int cls = unicode::IsWhitespace(c) ? -1 : (!split_word_classes_ || RustWordChar(c)) ? 0 : 1;
        if (cls != current) {
          if (current >= 0) {
            const std::string_view piece = text.substr(start, at - start);
            out.Add(piece, w.at_start && start == 0, in.AlignOf(piece));
          }
          start = at;
          current = cls;
        }
        at += len;
      }
      if (current >= 0) out.Add(text.substr(start), w.at_start && start == 0, in.AlignOf(text.substr(start)));
    }
  }

 private:
  bool split_word_classes_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeWhitespace(const Settings& s) {
  return std::make_unique<Whitespace>(s.Type() == "Whitespace");
}

}  // namespace tce::tok
