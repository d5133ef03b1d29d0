// Lowercase: each character's full lowercase mapping (tokenizers maps per character: no
// final-sigma context). Every character of a mapping keeps its source's range (tokenizers marks
// the extra ones as insertions after it).
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

class Lowercase final : public Normalizer {
 public:
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
      [[maybe_unused]] const size_t at = out.size();
      unicode::AppendLowercase(unicode::DecodeUtf8(p, end, &len), out);
      if constexpr (kAlign) {
        const auto begin = static_cast<uint32_t>(p - base);
        align->insert(align->end(), out.size() - at, ByteRange{begin, begin + static_cast<uint32_t>(len)});
      }
      p += len;
    }
  }
};

}  // namespace

std::unique_ptr<Normalizer> MakeLowercase(const Settings&) { return std::make_unique<Lowercase>(); }

}  // namespace tce::tok
