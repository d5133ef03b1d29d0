// BertNormalizer as a pipeline stage (the plain BERT tokenizer calls BertNormalizer directly).
#include "tokenizer/normalizers/bert.h"
#include "tokenizer/normalizers/normalizer.h"

namespace tce::tok {

namespace {

class BertStage final : public Normalizer {
 public:
  explicit BertStage(BertNormalizerOptions o) : bert_(o) {}
  void Normalize(std::string_view in, std::string& out) const override {
    std::vector<char32_t> pending;
    bert_.Normalize(in, out, pending);
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
