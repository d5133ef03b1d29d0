// A pre-tokenizer of tokenizer.json's pipeline (tokenizers' pre_tokenizers/): splits normalized
// text into the words the model tokenizes one by one, possibly rewriting them (Metaspace's ▁,
// ByteLevel's byte alphabet). Words live back to back in one buffer. When the tokenizer is asked
// for offsets, an alignment runs parallel to that buffer (one original byte range per byte, as
// tokenizers' NormalizedString keeps them); otherwise it stays empty and costs nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/alignment.h"
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
  // Empty, or one original byte range per byte of text (offsets asked for).
  Alignment align;

  void Clear() {
    text.clear();
    list.clear();
    align.clear();
  }
  std::string_view View(const Word& w) const { return std::string_view(text).substr(w.begin, w.end - w.begin); }
  // The alignment of `piece`, a view into `text`; null when no alignment is kept.
  const ByteRange* AlignOf(std::string_view piece) const {
    return align.empty() ? nullptr : align.data() + (piece.data() - text.data());
  }
  const ByteRange* AlignOf(const Word& w) const { return align.empty() ? nullptr : align.data() + w.begin; }
  // Appends `piece` as a new word (nothing for an empty piece: tokenizers drops empty splits),
  // with its alignment when `piece_align` (one entry per byte of piece) is not null.
  void Add(std::string_view piece, bool at_start, const ByteRange* piece_align) {
    if (piece.empty()) return;
    const size_t begin = text.size();
    text.append(piece);
    if (piece_align != nullptr) align.insert(align.end(), piece_align, piece_align + piece.size());
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

// Splits `word` (aligned by word_align, or null) at the delimiter ranges [begin, end) (sorted,
// non-overlapping) as `behavior` says and appends the pieces to `out`.
void SplitAt(std::string_view word, bool at_start, const ByteRange* word_align,
             const std::vector<std::pair<size_t, size_t>>& delimiters, Delimiter behavior, Words& out);

// Replaces `out` with the words of `in`, each split at every character for which is_delimiter
// holds, as `behavior` says (the Punctuation and Digits pre-tokenizers).
void SplitOnChars(const Words& in, bool (*is_delimiter)(char32_t), Delimiter behavior, Words& out);

}  // namespace tce::tok
