// StripAccents: drops combining marks (general category M*); usually after NFD/NFKD. What is kept
// keeps its own ranges.
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

class StripAccents final : public Normalizer {
 public:
  bool DropsStart(std::string_view text) const override {
    size_t len;
    return !text.empty() && unicode::IsMark(unicode::DecodeUtf8(reinterpret_cast<const unsigned char*>(text.data()),
                                                                  reinterpret_cast<const unsigned char*>(text.data()) + text.size(), &len));
  }

  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    if (align == nullptr) {
      Run<false>(in, out, nullptr);
    } else {
      Run<true>(in, out, align);
    }
  }

 private:
  template <bool kAlign>
  static void Run(std::string_view in, std::string& out, Alignment* align) {
    const auto* base = reinterpret_cast<const unsigned char*>(in.data());
    const auto* p = base;
    const auto* end = p + in.size();
    while (p < end) {
      size_t len;
      const char32_t c = unicode::DecodeUtf8(p, end, &len);
      if (!unicode::IsMark(c)) {
        out.append(reinterpret_cast<const char*>(p), len);
        if constexpr (kAlign) {
          const auto begin = static_cast<uint32_t>(p - base);
          align->insert(align->end(), len, ByteRange{begin, begin + static_cast<uint32_t>(len)});
        }
      }
      p += len;
    }
  }
};

}  // namespace

std::unique_ptr<Normalizer> MakeStripAccents(const Settings&) { return std::make_unique<StripAccents>(); }

}  // namespace tce::tok
