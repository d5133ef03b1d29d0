// Lowercase: each character's full lowercase mapping (tokenizers maps per character: no
// final-sigma context).
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

class Lowercase final : public Normalizer {
 public:
  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const auto* end = p + in.size();
    while (p < end) {
      size_t len;
      unicode::AppendLowercase(unicode::DecodeUtf8(p, end, &len), out);
      p += len;
    }
  }
};

}  // namespace

std::unique_ptr<Normalizer> MakeLowercase(const Settings&) { return std::make_unique<Lowercase>(); }

}  // namespace tce::tok
