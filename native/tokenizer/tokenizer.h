// A tokenizer with exact parity with Hugging Face's fast (Rust) tokenizer, built from
// tokenizer.json the way tokenizers builds it. The pipeline follows tokenizers' own split:
// added/special tokens are cut out of the raw text, then normalizer -> pre-tokenizer -> model
// -> post-processor (template, truncation). Each stage kind is one unit under normalizers/,
// pre_tokenizers/, models/, processors/. A plain BERT WordPiece tokenizer (the fields of
// TokenizerSpec, without a pipeline) takes a fused, streaming path through the same stages.
// docs/TOKENIZER.md describes the behaviour it reproduces.
//
// A Tokenizer is immutable after construction and safe to use from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/alignment.h"
#include "tokenizer/json_value.h"

namespace tce::tok {

// Thrown by Encode when the text needs something tokenizer.json lacks (as tokenizers, which loads
// such a file and fails only then: a BPE unk_token that is not in the vocabulary).
class TokenizerFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = true;      // special tokens are matched in the raw text, before normalization
  bool normalized = false;  // matched against normalized text instead of raw text
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
};

// Everything the tokenizer needs, as read from tokenizer.json or vocab.txt +
// tokenizer_config.json (lib/tokenizer-files.ts does the reading).
struct TokenizerSpec {
  std::vector<std::string> vocab;  // vocab[id] = token
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // already resolved: HF's null means "same as lowercase"
  bool lowercase = true;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
  std::vector<AddedToken> added_tokens;

  // A tokenizer.json pipeline. When set, the BERT fields above are unused except vocab,
  // pad_token and added_tokens: the components come from these settings (tokenizer.json's
  // "normalizer", "pre_tokenizer", "model" without its vocabulary, "post_processor"; null where
  // the file has none). Unigram's piece scores and BPE's merges (left, right, left, right, ...)
  // travel apart from the model settings.
  bool pipeline = false;
  JsonValue normalizer, pre_tokenizer, model, post_processor;
  std::vector<double> scores;
  std::vector<std::string> merges;
};

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  // Filled only when Encode is asked for offsets, one entry per id, as tokenizers' Encoding has
  // them: the byte range of the token's own sequence text it came from ({0, 0} for the special
  // tokens the post-processor adds), the index of the pre-tokenized word it belongs to within its
  // sequence (-1 for those special tokens), its sequence (0: the text, 1: the pair, -1: added by
  // the post-processor) and whether it is special (tokenizers' special_tokens_mask).
  std::vector<ByteRange> offsets;
  std::vector<int32_t> word_ids;
  std::vector<int8_t> sequence_ids;
  std::vector<uint8_t> special_mask;
};

class Tokenizer {
 public:
  // Throws std::invalid_argument with a message naming what is wrong (e.g. no [UNK] in vocab).
  explicit Tokenizer(TokenizerSpec spec);
  ~Tokenizer();

  // Encodes `a`, or the pair (a, *b) when b != nullptr. With add_special_tokens the
  // post-processor's template (e.g. [CLS] A [SEP] (B [SEP])) is applied. max_length == 0 means no truncation; otherwise the result
  // (special tokens included) is at most max_length tokens, truncated like the fast tokenizer's
  // longest_first. Invalid UTF-8 is decoded with U+FFFD replacement (then dropped by clean text).
  // Throws TokenizerFileError when the text needs a token the file lacks. With with_offsets the
  // Encoding's offsets, word ids, sequence ids and special mask are filled too (as tokenizers'
  // Encoding has them); without, they stay empty and nothing is spent on them.
  Encoding Encode(std::string_view a, const std::string_view* b, size_t max_length,
                  bool add_special_tokens, bool with_offsets = false) const;

  // The text of token `id` (an added token's content where the vocabulary has none); "" for an
  // id that is not in use.
  const std::string& IdToToken(int32_t id) const;

  int32_t pad_id() const;
  // The first / last special token of the single-sequence template (BERT's CLS / SEP), or -1.
  int32_t cls_id() const;
  int32_t sep_id() const;
  size_t vocab_size() const;
  // The largest id Encode or padding can give (vocabulary, added tokens, the post-processor's
  // special ids, the pad id) and the largest type id (from the post-processor's templates): what
  // the model's embedding tables must hold (lib/model-dir.ts checks them against config.json).
  int32_t max_id() const;
  int32_t max_type_id() const;
  // How many special tokens the post-processor adds to one sequence / a pair.
  size_t added_special_tokens(bool pair) const;

  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tce::tok
