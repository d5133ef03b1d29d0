// Replace: every non-overlapping match of the pattern, left to right, becomes `content`.
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/pattern.h"

namespace tce::tok {

namespace {

class Replace final : public Normalizer {
 public:
  Replace(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    std::vector<std::pair<size_t, size_t>> matches;
    pattern_.FindAll(in, matches);
    size_t at = 0;
    for (const auto& [begin, end] : matches) {
      out.append(in.substr(at, begin - at));
      out.append(content_);
      at = end;
    }
    out.append(in.substr(at));
  }

 private:
  Pattern pattern_;
  std::string content_;
};

}  // namespace

std::unique_ptr<Normalizer> MakeReplace(const Settings& s) {
  return std::make_unique<Replace>(Pattern::FromJson(s.Object("pattern"), s), s.RequiredString("content"));
}

}  // namespace tce::tok
