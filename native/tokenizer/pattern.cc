#include "tokenizer/pattern.h"

#include <stdexcept>

namespace tce::tok {

Pattern Pattern::FromJson(const JsonValue& json, const Settings& s) {
  if (!json.is_object() || json.fields.size() != 1 || !json.fields[0].second.is_string()) {
    s.Fail("\"pattern\" must be {\"String\": ...} or {\"Regex\": ...}");
  }
  const std::string& kind = json.fields[0].first;
  const std::string& text = json.fields[0].second.string;
  Pattern p;
  if (kind == "String") {
    // tokenizers matches an empty literal everywhere, which no real file relies on.
    if (text.empty()) s.Fail("an empty \"String\" pattern is not supported");
    p.literal_ = text;
    return p;
  }
  if (kind != "Regex") s.Fail("\"pattern\" must be {\"String\": ...} or {\"Regex\": ...}");
  try {
    p.regex_ = std::make_shared<const OnigRegex>(text);
  } catch (const std::invalid_argument& e) {
    s.Fail("regex \"" + text + "\" does not compile: " + e.what());
  }
  return p;
}

void Pattern::FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  out.clear();
  if (regex_) {
    regex_->FindAll(text, out);
    return;
  }
  for (size_t at = text.find(literal_); at != std::string_view::npos; at = text.find(literal_, at + literal_.size())) {
    out.emplace_back(at, at + literal_.size());
  }
}

}  // namespace tce::tok
