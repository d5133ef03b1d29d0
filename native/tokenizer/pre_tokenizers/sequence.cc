// Sequence: each member splits what the previous one produced.
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"

namespace tce::tok {

namespace {

class SequencePre final : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> members) : members_(std::move(members)) {}

  void Split(const Words& in, Words& out) const override {
    if (members_.empty()) {
      out = in;
      return;
    }
    Words a = in, b;
    for (const auto& m : members_) {
      m->Split(a, b);
      std::swap(a, b);
    }
    out = std::move(a);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> members_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakePreTokenizerSequence(const Settings& s) {
  std::vector<std::unique_ptr<PreTokenizer>> members;
  for (const JsonValue& m : s.Array("pretokenizers")) members.push_back(MakePreTokenizer(m));
  return std::make_unique<SequencePre>(std::move(members));
}

}  // namespace tce::tok
