// BertPreTokenizer as a pipeline stage (the plain BERT tokenizer calls PreTokenize directly).
#include "tokenizer/pre_tokenizers/bert.h"
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"

namespace tce::tok {

namespace {

class BertStage final : public PreTokenizer {
 public:
  void Split(const Words& in, Words& out) const override {
    out.Clear();
    for (const Word& w : in.list) {
      const std::string_view text = in.View(w);
      PreTokenize(text, [&](std::string_view word, size_t) {
        out.Add(word, w.at_start && word.data() == text.data(), in.AlignOf(word));
        return true;
      });
    }
  }
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeBertPreTokenizerStage(const Settings&) { return std::make_unique<BertStage>(); }

}  // namespace tce::tok
