// Split: cut at the matches of a pattern (or, inverted, at what lies between them), keeping
// the delimiters as `behavior` says.
#include "tokenizer/pattern.h"
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"

namespace tce::tok {

namespace {

class SplitPre final : public PreTokenizer {
 public:
  SplitPre(Pattern pattern, Delimiter behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void Split(const Words& in, Words& out) const override {
    out.Clear();
    std::vector<std::pair<size_t, size_t>> matches, delimiters;
    for (const Word& w : in.list) {
      const std::string_view text = in.View(w);
      pattern_.FindAll(text, matches);
      if (!invert_) {
        SplitAt(text, w.at_start, matches, behavior_, out);
        continue;
      }
      delimiters.clear();
      size_t prev = 0;
      for (const auto& [mb, me] : matches) {
        if (mb > prev) delimiters.emplace_back(prev, mb);
        prev = me;
      }
      if (prev < text.size()) delimiters.emplace_back(prev, text.size());
      SplitAt(text, w.at_start, delimiters, behavior_, out);
    }
  }

 private:
  Pattern pattern_;
  Delimiter behavior_;
  bool invert_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeSplit(const Settings& s) {
  return std::make_unique<SplitPre>(Pattern::FromJson(s.Object("pattern"), s), ReadDelimiter(s), s.Bool("invert", false));
}

}  // namespace tce::tok
