// ByteLevel (GPT-2): optionally a space before each word, then (use_regex) the GPT-2 split
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// written out as the alternation it is (first alternative that matches at a position wins;
// the quantifiers are greedy), then every byte mapped to the printable character GPT-2's
// byte alphabet gives it.
#include <array>

#include "tokenizer/pre_tokenizers/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

// bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes take
// U+0100 onwards in byte order. Stored as UTF-8.
std::array<std::string, 256> MakeByteAlphabet() {
  std::array<std::string, 256> table;
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    unicode::AppendUtf8(static_cast<char32_t>(printable ? b : 256 + next++), table[b]);
  }
  return table;
}

enum class Class { kLetter, kNumber, kSpace, kOther };

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex), alphabet_(MakeByteAlphabet()) {}

  void Split(const Words& in, Words& out) const override {
    out.Clear();
    std::string word;
    Alignment word_align;  // kept only when `in` has an alignment
    for (const Word& w : in.list) {
      const std::string_view text = in.View(w);
      const ByteRange* align = in.AlignOf(w);
      word.clear();
      word_align.clear();
      if (add_prefix_space_ && text.substr(0, 1) != " ") {
        word.push_back(' ');
        // tokenizers' prepend: the space takes the alignment of the character it precedes.
        if (align != nullptr) word_align.push_back(align[0]);
      }
      word.append(text);
      if (align != nullptr) word_align.insert(word_align.end(), align, align + text.size());
      const ByteRange* aligned = align != nullptr ? word_align.data() : nullptr;
      if (!use_regex_) {
        Emit(word, w.at_start, aligned, out);
        continue;
      }
      for (size_t at = 0; at < word.size();) {
        const size_t end = MatchAt(word, at);
        Emit(std::string_view(word).substr(at, end - at), w.at_start && at == 0,
             aligned != nullptr ? aligned + at : nullptr, out);
        at = end;
      }
    }
  }

 private:
  static Class ClassOf(char32_t c) {
    if (unicode::IsWhitespace(c)) return Class::kSpace;
    if (unicode::IsLetter(c)) return Class::kLetter;
    if (unicode::IsNumber(c)) return Class::kNumber;
    return Class::kOther;
  }

  // End of the GPT-2 pattern's match at `at` (the pattern matches every character, so there
  // is always one).
  static size_t MatchAt(std::string_view s, size_t at) {
    const auto* base = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = base + s.size();
    auto next = [&](size_t pos, Class* cls) {
      size_t len;
      *cls = ClassOf(unicode::DecodeUtf8(base + pos, end, &len));
      return len;
    };
    // A run of characters of class `c` from pos; returns its end.
    auto run = [&](size_t pos, Class c) {
      while (pos < s.size()) {
        Class k;
        const size_t len = next(pos, &k);
        if (k != c) break;
        pos += len;
      }
      return pos;
    };
    // Contractions (ASCII apostrophe, case-sensitive).
    if (s[at] == '\'' && at + 1 < s.size()) {
      const char a = s[at + 1];
      if (a == 's' || a == 't' || a == 'm' || a == 'd') return at + 2;
      if (at + 2 < s.size()) {
        const char b = s[at + 2];
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return at + 3;
      }
    }
    Class first;
    const size_t first_len = next(at, &first);
    // " ?X+" for X in letters, numbers, others: an optional ASCII space, then a run.
    if (s[at] == ' ' && at + 1 < s.size()) {
      Class second;
      next(at + 1, &second);
      if (second != Class::kSpace) return run(at + 1, second);
    }
    if (first != Class::kSpace) return run(at, first);
    // Whitespace: "\s+(?!\S)" takes the run but leaves its last character when a non-space
    // follows; a single space before a non-space falls to "\s+" (the whole run, one char).
    const size_t stop = run(at, Class::kSpace);
    if (stop == s.size()) return stop;
    // Back up one character from stop.
    size_t last = stop - 1;
    while (last > at && (base[last] & 0xC0) == 0x80) --last;
    return last > at ? last : at + first_len;
  }

  // Appends `piece` in the byte alphabet; every character written for a byte takes the alignment
  // of that byte (all bytes of one character share its alignment), as tokenizers' transform does.
  void Emit(std::string_view piece, bool at_start, const ByteRange* align, Words& out) const {
    if (piece.empty()) return;
    const size_t begin = out.text.size();
    for (size_t i = 0; i < piece.size(); ++i) {
      const std::string& mapped = alphabet_[static_cast<unsigned char>(piece[i])];
      out.text.append(mapped);
      if (align != nullptr) out.align.insert(out.align.end(), mapped.size(), align[i]);
    }
    out.list.push_back(Word{begin, out.text.size(), at_start});
  }

  bool add_prefix_space_;
  bool use_regex_;
  std::array<std::string, 256> alphabet_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeByteLevel(const Settings& s) {
  return std::make_unique<ByteLevel>(s.Bool("add_prefix_space", true), s.Bool("use_regex", true));
}

}  // namespace tce::tok
