// A regular expression of a tokenizer.json (Split pre-tokenizer, Replace normalizer) compiled and
// searched by Oniguruma exactly as tokenizers does it: tokenizers' SysRegex is the onig crate's
// `Regex::new` (Oniguruma's default syntax, ONIG_SYNTAX_ONIGURUMA, no options, UTF-8) and its
// matches are the onig crate's `find_iter`. Using the engine itself rather than a re-implementation
// keeps Unicode properties, case-insensitive groups, look-around and the order in which
// alternatives are tried identical by construction.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Oniguruma's regex_t, kept out of this header so that only onig_regex.cc sees oniguruma.h.
struct re_pattern_buffer;

namespace tce::tok {

class OnigRegex {
 public:
  // Compiles `pattern`; throws std::invalid_argument with Oniguruma's own message when it does
  // not compile (tokenizers refuses the same file with the same engine).
  explicit OnigRegex(const std::string& pattern);

  // Appends the matches of `text` as the onig crate's find_iter yields them: leftmost first,
  // non-overlapping, each search starting where the previous match ended; an empty match right
  // where the previous match ended is skipped by moving one character on. Matches may be empty
  // (a pattern such as `a*`), as tokenizers sees them.
  //
  // Safe to call from many threads at once: each call searches with its own match region, and
  // Oniguruma's search does not write to the compiled regex.
  void FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  struct Free {
    void operator()(re_pattern_buffer* regex) const;
  };
  std::unique_ptr<re_pattern_buffer, Free> regex_;
};

}  // namespace tce::tok
