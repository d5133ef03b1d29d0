// The patterns of Replace normalizers and Split pre-tokenizers: a literal string, or a regular
// expression from the small subset tokenizer.json files use in practice: alternatives
// separated by | (the first that matches at a position wins, as in Oniguruma), each a sequence
// of characters, escapes \s \S \d \D \w \W, `.` and classes [...] (characters, ranges,
// those escapes, ^ negation), each with an optional greedy quantifier * + ? {n} {n,} {n,m};
// e.g. " {2,}" of the sentencepiece converters or "\s{2,}|[\n\r\t]" of transformers 5's
// DeBERTa-v2. Anything else (groups, anchors, lookaround, lazy quantifiers) is refused at load
// with the pattern named, rather than matched differently from Oniguruma.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/json_value.h"

namespace tce::tok {

class Pattern {
 public:
  // From {"String": "..."} or {"Regex": "..."}; throws std::invalid_argument (via s) otherwise.
  static Pattern FromJson(const JsonValue& json, const Settings& s);

  // The leftmost match starting at or after byte `from` of `text`: sets [*begin, *end) and
  // returns true, or returns false. Matches are never empty.
  bool Find(std::string_view text, size_t from, size_t* begin, size_t* end) const;

 private:
  enum class Kind { kChar, kSpace, kNotSpace, kDigit, kNotDigit, kWord, kNotWord, kAny, kClass };
  struct ClassItem {
    Kind kind = Kind::kChar;  // kChar: the range [lo, hi]; otherwise that escape
    char32_t lo = 0, hi = 0;
  };
  struct Atom {
    Kind kind = Kind::kChar;
    char32_t c = 0;
    std::vector<ClassItem> items;  // kClass
    bool negated = false;          // kClass
    size_t min = 1, max = 1;
  };
  using Sequence = std::vector<Atom>;
  // End of a match of seq[i..] at `pos`, or npos.
  size_t MatchFrom(const Sequence& seq, std::string_view text, size_t i, size_t pos) const;
  static bool Accepts(const Atom& a, char32_t c);
  static bool AcceptsKind(Kind k, char32_t c);

  std::string literal_;                // used when alternatives_ is empty
  std::vector<Sequence> alternatives_;
};

}  // namespace tce::tok
