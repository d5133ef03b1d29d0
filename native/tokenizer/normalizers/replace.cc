// Replace: every non-overlapping match of the pattern, left to right, becomes `content`. In
// tokenizers' alignment the replacement is an insertion after the match's last character, whose
// range every byte of it takes ({0, 0} for an empty match at the start); the rest keeps its own.
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/normalizers/replay.h"
#include "tokenizer/pattern.h"

namespace tce::tok {

namespace {

// The range of the character that ends at byte `end` of `in` ({0, 0} when `end` is 0).
ByteRange CharBefore(std::string_view in, size_t end) {
  if (end == 0) return {};
  size_t begin = end - 1;
  while (begin > 0 && (static_cast<unsigned char>(in[begin]) & 0xC0) == 0x80) --begin;
  return {static_cast<uint32_t>(begin), static_cast<uint32_t>(end)};
}

class Replace final : public Normalizer {
 public:
  Replace(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    // tokenizers' patterns find nothing in empty text (not even an empty match).
    if (in.empty()) return;
    std::vector<std::pair<size_t, size_t>> matches;
    pattern_.FindAll(in, matches);
    size_t at = 0;
    for (const auto& [begin, end] : matches) {
      out.append(in.substr(at, begin - at));
      out.append(content_);
      if (align != nullptr) {
        AppendOwnRanges(in, at, begin, *align);
        align->insert(align->end(), content_.size(), CharBefore(in, end));
      }
      at = end;
    }
    out.append(in.substr(at));
    if (align != nullptr) AppendOwnRanges(in, at, in.size(), *align);
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
