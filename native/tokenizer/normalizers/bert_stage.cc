// BertNormalizer as a pipeline stage (the plain BERT tokenizer calls BertNormalizer directly).
#include "tokenizer/normalizers/bert.h"
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

class BertStage final : public Normalizer {
 public:
  explicit BertStage(BertNormalizerOptions o) : bert_(o) {}
  // clean_text and strip_accents filter characters out; normalizing the first one alone tells.
  bool DropsStart(std::string_view text) const override {
    if (text.empty()) return false;
    size_t len;
    unicode::DecodeUtf8(reinterpret_cast<const unsigned char*>(text.data()),
                        reinterpret_cast<const unsigned char*>(text.data()) + text.size(), &len);
    std::string out;
    Normalize(text.substr(0, len), out, nullptr);
    return out.empty();
  }

  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    std::vector<char32_t> pending;
    bert_.Normalize(in, out, pending, align);
  }

 private:
  BertNormalizer bert_;
};

}  // namespace

std::unique_ptr<Normalizer> MakeBertNormalizerStage(const Settings& s) {
  BertNormalizerOptions o;
  o.clean_text = s.Bool("clean_text", true);
  o.handle_chinese_chars = s.Bool("handle_chinese_chars", true);
  o.lowercase = s.Bool("lowercase", true);
  // null strip_accents means "as lowercase".
  o.strip_accents = s.Bool("strip_accents", o.lowercase);
  return std::make_unique<BertStage>(o);
}

}  // namespace tce::tok
