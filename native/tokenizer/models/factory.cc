#include "tokenizer/models/model.h"
#include "tokenizer/models/wordpiece.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

class WordPieceModel final : public Model {
 public:
  WordPieceModel(const std::vector<std::string>& vocab, const std::string& unk, const std::string& prefix,
                 size_t max_chars)
      : wordpiece_(vocab, unk, prefix, max_chars) {}
  void Tokenize(std::string_view word, std::vector<int32_t>& out, std::vector<ByteRange>* ranges) const override {
    size_t chars = 0;
    for (char c : word) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (ranges != nullptr) {
      wordpiece_.Tokenize(word, chars, out, *ranges);
    } else {
      wordpiece_.Tokenize(word, chars, out);
    }
  }
  int32_t Find(std::string_view token) const override { return wordpiece_.Find(token); }

 private:
  WordPiece wordpiece_;
};

}  // namespace

std::unique_ptr<Model> MakeWordPieceModel(const Settings& s, const ModelTables& tables) {
  return std::make_unique<WordPieceModel>(*tables.vocab, s.String("unk_token", "[UNK]"),
                                          s.String("continuing_subword_prefix", "##"),
                                          static_cast<size_t>(s.CappedCount("max_input_chars_per_word", 100, INT64_MAX)));
}

std::unique_ptr<Model> MakeModel(const JsonValue& json, const ModelTables& tables) {
  const std::string type = Settings(json, "model").Type();
  const Settings s(json, "model " + type);
  if (type == "WordPiece") return MakeWordPieceModel(s, tables);
  if (type == "Unigram") return MakeUnigram(s, tables);
  if (type == "BPE") return MakeBpe(s, tables);
  s.Fail("is not supported (supported: WordPiece, Unigram, BPE)");
}

}  // namespace tce::tok
