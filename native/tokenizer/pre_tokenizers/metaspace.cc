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
    WithAlignment(in, [&](auto aligned) { Run<decltype(aligned)::value>(in, out); });
  }

 private:
  template <bool kAligned>
  void Run(const Words& in, Words& out) const {
    std::string word;
    Alignment word_align;  // kAligned only
    std::vector<std::pair<size_t, size_t>> delimiters;
    for (const Word& w : in.list) {
      const std::string_view text = in.View(w);
      [[maybe_unused]] const ByteRange* align = in.AlignOf(w);
      word.clear();
      const bool starts = text.substr(0, 1) == " " || text.substr(0, replacement_.size()) == replacement_;
      if (!starts && (prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && w.at_start))) {
        word.append(replacement_);
      }
      if constexpr (kAligned) {
        // tokenizers' prepend: the new character takes the alignment of the one it precedes; a
        // replaced space gives its alignment to its replacement (one character for one).
        word_align.assign(word.size(), align[0]);
        for (size_t i = 0; i < text.size(); ++i) {
          if (text[i] == ' ') {
            word.append(replacement_);
            AppendRepeated(word_align, replacement_.size(), align[i]);
          } else {
            word.push_back(text[i]);
            word_align.push_back(align[i]);
          }
        }
      } else {
        for (char c : text) {
          if (c == ' ') {
            word.append(replacement_);
          } else {
            word.push_back(c);
          }
        }
      }
      const ByteRange* word_aligned = kAligned ? word_align.data() : nullptr;
      if (!split_) {
        out.Add(word, w.at_start, word_aligned);
        continue;
      }
      delimiters.clear();
      for (size_t at = word.find(replacement_); at != std::string::npos; at = word.find(replacement_, at + replacement_.size())) {
        delimiters.emplace_back(at, at + replacement_.size());
      }
      SplitAt<kAligned>(word, w.at_start, word_aligned, delimiters, Delimiter::kMergedWithNext, out);
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
