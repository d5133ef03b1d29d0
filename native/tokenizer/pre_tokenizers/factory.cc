#include "tokenizer/pre_tokenizers/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

std::unique_ptr<PreTokenizer> MakePreTokenizer(const JsonValue& json) {
  const std::string type = Settings(json, "pre_tokenizer").Type();
  const Settings s(json, "pre_tokenizer " + type);
  if (type == "BertPreTokenizer") return MakeBertPreTokenizerStage(s);
  if (type == "Metaspace") return MakeMetaspace(s);
  if (type == "ByteLevel") return MakeByteLevel(s);
  if (type == "Whitespace" || type == "WhitespaceSplit") return MakeWhitespace(s);
  if (type == "Split") return MakeSplit(s);
  if (type == "Punctuation") return MakePunctuation(s);
  if (type == "Digits") return MakeDigits(s);
  if (type == "Sequence") return MakePreTokenizerSequence(s);
  s.Fail("is not supported (supported: BertPreTokenizer, Metaspace, ByteLevel, Whitespace, "
         "WhitespaceSplit, Split, Punctuation, Digits, Sequence)");
}

Delimiter ReadDelimiter(const Settings& s) {
  const std::string b = s.RequiredString("behavior");
  if (b == "Removed") return Delimiter::kRemoved;
  if (b == "Isolated") return Delimiter::kIsolated;
  if (b == "MergedWithPrevious") return Delimiter::kMergedWithPrevious;
  if (b == "MergedWithNext") return Delimiter::kMergedWithNext;
  if (b == "Contiguous") return Delimiter::kContiguous;
  s.Fail("\"behavior\" \"" + b + "\" is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

void SplitAt(std::string_view word, bool at_start, const ByteRange* word_align,
             const std::vector<std::pair<size_t, size_t>>& delimiters, Delimiter behavior, Words& out) {
  // As tokenizers' NormalizedString::split: the word becomes (text, is_delimiter) runs, then
  // the behavior decides what each delimiter becomes.
  size_t at = 0;
  size_t pending_begin = std::string_view::npos;  // MergedWithNext: a delimiter waiting for its text
  auto add = [&](size_t b, size_t e) {
    out.Add(word.substr(b, e - b), at_start && b == 0, word_align != nullptr ? word_align + b : nullptr);
  };
  for (size_t i = 0; i < delimiters.size(); ++i) {
    const auto [db, de] = delimiters[i];
    switch (behavior) {
      case Delimiter::kRemoved:
        add(at, db);
        break;
      case Delimiter::kIsolated:
        add(at, db);
        add(db, de);
        break;
      case Delimiter::kMergedWithPrevious:
        add(at, de);
        break;
      case Delimiter::kMergedWithNext:
        add(pending_begin == std::string_view::npos ? at : pending_begin, db);
        pending_begin = db;
        break;
      case Delimiter::kContiguous: {
        add(at, db);
        // Adjacent delimiters form one piece.
        size_t e = de;
        while (i + 1 < delimiters.size() && delimiters[i + 1].first == e) e = delimiters[++i].second;
        add(db, e);
        at = e;
        continue;
      }
    }
    at = de;
  }
  if (behavior == Delimiter::kMergedWithNext && pending_begin != std::string_view::npos) {
    add(pending_begin, word.size());
  } else {
    add(at, word.size());
  }
}

void SplitOnChars(const Words& in, bool (*is_delimiter)(char32_t), Delimiter behavior, Words& out) {
  out.Clear();
  std::vector<std::pair<size_t, size_t>> delimiters;
  for (const Word& w : in.list) {
    const std::string_view text = in.View(w);
    const auto* base = reinterpret_cast<const unsigned char*>(text.data());
    delimiters.clear();
    for (size_t at = 0; at < text.size();) {
      size_t len;
      const char32_t c = unicode::DecodeUtf8(base + at, base + text.size(), &len);
      if (is_delimiter(c)) delimiters.emplace_back(at, at + len);
      at += len;
    }
    SplitAt(text, w.at_start, in.AlignOf(w), delimiters, behavior, out);
  }
}

}  // namespace tce::tok
