// The patterns of Replace normalizers and Split pre-tokenizers: {"String": "..."} (a literal,
// which tokenizers escapes into a regex: its matches are the literal's non-overlapping
// occurrences, found here without a regex engine) or {"Regex": "..."}, compiled and searched by
// Oniguruma as tokenizers does (onig_regex.h), so that any pattern tokenizers accepts is matched
// identically and any pattern it refuses is refused with Oniguruma's message.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/json_value.h"
#include "tokenizer/onig_regex.h"

namespace tce::tok {

class Pattern {
 public:
  // From {"String": "..."} or {"Regex": "..."}; throws std::invalid_argument (via s) otherwise.
  static Pattern FromJson(const JsonValue& json, const Settings& s);

  // Replaces `out` with the matches in `text`, left to right, as tokenizers' Pattern::find_matches
  // sees them; a regex match may be empty. Safe to call from many threads at once.
  void FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  std::string literal_;                      // used when regex_ is null
  std::shared_ptr<const OnigRegex> regex_;   // immutable once built, shared by copies
};

}  // namespace tce::tok
