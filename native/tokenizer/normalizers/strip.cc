// Strip: removes White_Space at the left and/or right end; what is kept keeps its own ranges.
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/normalizers/replay.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}

  bool DropsStart(std::string_view text) const override {
    size_t len;
    return left_ && !text.empty() &&
           unicode::IsWhitespace(unicode::DecodeUtf8(reinterpret_cast<const unsigned char*>(text.data()),
                                                     reinterpret_cast<const unsigned char*>(text.data()) + text.size(), &len));
  }

  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    const auto* base = reinterpret_cast<const unsigned char*>(in.data());
    const auto* end = base + in.size();
    size_t begin = 0, stop = in.size();
    if (left_) {
      while (begin < in.size()) {
        size_t len;
        if (!unicode::IsWhitespace(unicode::DecodeUtf8(base + begin, end, &len))) break;
        begin += len;
      }
    }
    if (right_) {
      // Walk forward, remembering where the last non-space character ended.
      size_t last = begin;
      for (size_t at = begin; at < in.size();) {
        size_t len;
        const char32_t c = unicode::DecodeUtf8(base + at, end, &len);
        at += len;
        if (!unicode::IsWhitespace(c)) last = at;
      }
      stop = last;
    }
    if (stop <= begin) return;
    out.append(in.substr(begin, stop - begin));
    if (align != nullptr) AppendOwnRanges(in, begin, stop, *align);
  }

 private:
  bool left_, right_;
};

}  // namespace

std::unique_ptr<Normalizer> MakeStrip(const Settings& s) {
  return std::make_unique<Strip>(s.Bool("strip_left", true), s.Bool("strip_right", true));
}

}  // namespace tce::tok
