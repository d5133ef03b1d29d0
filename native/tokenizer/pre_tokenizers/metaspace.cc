// Metaspace (sentencepiece's word boundaries): spaces become the replacement character (▁),
// one is prepended as prepend_scheme says ("always"; "first": only to the word at the start of
// the sequence; "never"), and with `split` each replacement starts a new word.
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

enum class Prepend { kAlways, kFirst, kNever };

class Metaspace final : public PreTokenizer {
 public:
  Metaspace(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}

  void Split(const Words& in, Words& out) const override {
    out.Clear();
    std::string word;
    Alignment word_align;  // kept only when `in` has an alignment
    std::vector<std::pair<size_t, size_t>> delimiters;
    for (const Word& w : in.list) {
      const std::string_view text = in.View(w);
      const ByteRange* align = in.AlignOf(w);
      word.clear();
      word_align.clear();
      const bool starts = text.substr(0, 1) == " " || text.substr(0, replacement_.size()) == replacement_;
      if (!starts && (prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && w.at_start))) {
        word.append(replacement_);
        // tokenizers' prepend: the new character takes the alignment of the one it precedes.
        if (align != nullptr) word_align.insert(word_align.end(), replacement_.size(), align[0]);
      }
      delimiters.clear();
      for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == ' ') {
          word.append(replacement_);
          if (align != nullptr) word_align.insert(word_align.end(), replacement_.size(), align[i]);
        } else {
          word.push_back(text[i]);
          if (align != nullptr) word_align.push_back(align[i]);
        }
      }
      const ByteRange* aligned = align != nullptr ? word_align.data() : nullptr;
      if (!split_) {
        out.Add(word, w.at_start, aligned);
        continue;
      }
      for (size_t at = word.find(replacement_); at != std::string::npos; at = word.find(replacement_, at + replacement_.size())) {
        delimiters.emplace_back(at, at + replacement_.size());
      }
      SplitAt(word, w.at_start, aligned, delimiters, Delimiter::kMergedWithNext, out);
    }
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeMetaspace(const Settings& s) {
  const std::string replacement = s.String("replacement", "\xE2\x96\x81");
  size_t len = 0;
  if (replacement.empty() ||
      (unicode::DecodeUtf8(reinterpret_cast<const unsigned char*>(replacement.data()),
                           reinterpret_cast<const unsigned char*>(replacement.data()) + replacement.size(), &len),
       len != replacement.size())) {
    s.Fail("\"replacement\" must be one character");
  }
  Prepend prepend = Prepend::kAlways;
  if (s.Has("prepend_scheme")) {
    const std::string scheme = s.String("prepend_scheme", "always");
    if (scheme == "always") prepend = Prepend::kAlways;
    else if (scheme == "first") prepend = Prepend::kFirst;
    else if (scheme == "never") prepend = Prepend::kNever;
    else s.Fail("\"prepend_scheme\" must be \"always\", \"first\" or \"never\"");
  }
  // Files from before prepend_scheme: add_prefix_space false means never.
  if (!s.Bool("add_prefix_space", true)) prepend = Prepend::kNever;
  return std::make_unique<Metaspace>(replacement, prepend, s.Bool("split", true));
}

}  // namespace tce::tok
