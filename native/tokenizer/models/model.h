// A model of tokenizer.json's pipeline (tokenizers' models/): turns one pre-tokenized word
// into ids.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/alignment.h"
#include "tokenizer/json_value.h"

namespace tce::tok {

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of `word` (valid UTF-8, non-empty) to `out`, and when `ranges` is not null,
  // each token's byte range within `word` as tokenizers' Token::offsets gives it.
  virtual void Tokenize(std::string_view word, std::vector<int32_t>& out, std::vector<ByteRange>* ranges) const = 0;
  // The id of a token of the vocabulary, or -1.
  virtual int32_t Find(std::string_view token) const = 0;
};

// What a model is built from: tokenizer.json's "model" settings without its big tables, which
// travel apart (vocab[id] = token; Unigram's scores[id]; BPE's merges as (left, right) pairs
// flattened).
struct ModelTables {
  const std::vector<std::string>* vocab = nullptr;
  const std::vector<double>* scores = nullptr;
  const std::vector<std::string>* merges = nullptr;
};

std::unique_ptr<Model> MakeModel(const JsonValue& json, const ModelTables& tables);

std::unique_ptr<Model> MakeWordPieceModel(const Settings& s, const ModelTables& tables);
std::unique_ptr<Model> MakeUnigram(const Settings& s, const ModelTables& tables);
std::unique_ptr<Model> MakeBpe(const Settings& s, const ModelTables& tables);

}  // namespace tce::tok
