// A pre-tokenizer of tokenizer.json's pipeline (tokenizers' pre_tokenizers/): splits normalized
// text into the words the model tokenizes one by one, possibly rewriting them (Metaspace's ▁,
// ByteLevel's byte alphabet). Words live back to back in one buffer; a word's original offsets
// could be carried next to its range when a caller needs them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/json_value.h"

namespace tce::tok {

struct Word {
  size_t begin = 0;  // byte range in Words::text
  size_t end = 0;
  // Whether the word starts where the input sequence starts (Metaspace's prepend_scheme "first").
  bool at_start = false;
};

struct Words {
  std::string text;
  std::vector<Word> list;

  void Clear() {
    text.clear();
    list.clear();
  }
  std::string_view View(const Word& w) const { return std::string_view(text).substr(w.begin, w.end - w.begin); }
  // Appends `piece` as a new word (nothing for an empty piece: tokenizers drops empty splits).
  void Add(std::string_view piece, bool at_start) {
    if (piece.empty()) return;
    const size_t begin = text.size();
    text.append(piece);
    list.push_back(Word{begin, text.size(), at_start});
  }
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits every word of `in` and appends the results, in order, to `out` (cleared first).
  virtual void Split(const Words& in, Words& out) const = 0;
};

// Builds the pre-tokenizer tokenizer.json describes; throws std::invalid_argument naming an
// unsupported type or a malformed setting.
std::unique_ptr<PreTokenizer> MakePreTokenizer(const JsonValue& json);

// One factory per kind (pre_tokenizers/<kind>.cc).
std::unique_ptr<PreTokenizer> MakeBertPreTokenizerStage(const Settings& s);
std::unique_ptr<PreTokenizer> MakeMetaspace(const Settings& s);
std::unique_ptr<PreTokenizer> MakeByteLevel(const Settings& s);
std::unique_ptr<PreTokenizer> MakeWhitespace(const Settings& s);       // Whitespace, WhitespaceSplit
std::unique_ptr<PreTokenizer> MakeSplit(const Settings& s);
std::unique_ptr<PreTokenizer> MakePunctuation(const Settings& s);
std::unique_ptr<PreTokenizer> MakeDigits(const Settings& s);
std::unique_ptr<PreTokenizer> MakePreTokenizerSequence(const Settings& s);

// How a delimiter found in a word is kept (tokenizers' SplitDelimiterBehavior).
enum class Delimiter { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
Delimiter ReadDelimiter(const Settings& s);

// Splits `word` at the delimiter ranges [begin, end) (sorted, non-overlapping) as `behavior` says
// and appends the pieces to `out`.
void SplitAt(std::string_view word, bool at_start, const std::vector<std::pair<size_t, size_t>>& delimiters,
             Delimiter behavior, Words& out);

// Replaces `out` with the words of `in`, each split at every character for which is_delimiter
// holds, as `behavior` says (the Punctuation and Digits pre-tokenizers).
void SplitOnChars(const Words& in, bool (*is_delimiter)(char32_t), Delimiter behavior, Words& out);

}  // namespace tce::tok
