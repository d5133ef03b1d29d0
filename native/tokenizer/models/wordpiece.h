// The WordPiece model: greedy longest-match-first over code points, continuation pieces
// prefixed (by default "##"); a word with any unmatched position, or longer than
// max_input_chars_per_word code points, becomes a single [UNK].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/alignment.h"
#include "tokenizer/vocab_map.h"

namespace tce::tok {

class WordPiece {
 public:
  // Throws std::invalid_argument when unk_token is not in the vocabulary.
  WordPiece(const std::vector<std::string>& vocab, const std::string& unk_token,
            const std::string& continuing_subword_prefix, size_t max_input_chars_per_word);

  // Appends the ids of `word` (`chars` code points long, non-empty) to `out`.
  void Tokenize(std::string_view word, size_t chars, std::vector<int32_t>& out) const {
    Run<false>(word, chars, out, nullptr);
  }
  // The same, and each token's byte range within `word` (the prefix is not part of it; an unknown
  // word's [UNK] covers the whole word) appended to `ranges`.
  void Tokenize(std::string_view word, size_t chars, std::vector<int32_t>& out, std::vector<ByteRange>& ranges) const {
    Run<true>(word, chars, out, &ranges);
  }

  int32_t unk_id() const { return unk_id_; }
  int32_t Find(std::string_view token) const { return all_.Find(token); }

 private:
  // One body for both entry points; the ranges are compiled out of the plain one.
  template <bool kRanges>
  void Run(std::string_view word, size_t chars, std::vector<int32_t>& out, std::vector<ByteRange>* ranges) const;

  VocabMap all_;           // every token: lookups at the start of a word
  VocabMap continuation_;  // tokens starting with the prefix, keyed without it: lookups inside
                           // a word, so "##" never has to be glued onto a copy of the text
  int32_t unk_id_ = -1;
  size_t max_input_chars_per_word_;
};

}  // namespace tce::tok
