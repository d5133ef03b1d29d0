#include "tokenizer/pattern.h"

#include <limits>

#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

constexpr size_t kNone = std::string_view::npos;
constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();

char32_t Next(std::string_view text, size_t pos, size_t* len) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  return unicode::DecodeUtf8(p, reinterpret_cast<const unsigned char*>(text.data()) + text.size(), len);
}

}  // namespace

Pattern Pattern::FromJson(const JsonValue& json, const Settings& s) {
  Pattern p;
  if (!json.is_object() || json.fields.size() != 1 || !json.fields[0].second.is_string()) {
    s.Fail("\"pattern\" must be {\"String\": ...} or {\"Regex\": ...}");
  }
  const std::string& kind = json.fields[0].first;
  const std::string& text = json.fields[0].second.string;
  if (text.empty()) s.Fail("an empty pattern is not supported");
  if (kind == "String") {
    p.literal_ = text;
    return p;
  }
  if (kind != "Regex") s.Fail("\"pattern\" must be {\"String\": ...} or {\"Regex\": ...}");
  auto unsupported = [&]() -> void {
    s.Fail("regex \"" + text + "\" is not supported (only |, characters, classes [...], \\s \\S \\d \\D \\w \\W . and greedy quantifiers)");
  };
  // An escape after a backslash: a class escape (kind != kChar) or a character.
  auto escape = [&](char e, Kind* k, char32_t* c) {
    *k = Kind::kChar;
    switch (e) {
      case 's': *k = Kind::kSpace; return;
      case 'S': *k = Kind::kNotSpace; return;
      case 'd': *k = Kind::kDigit; return;
      case 'D': *k = Kind::kNotDigit; return;
      case 'w': *k = Kind::kWord; return;
      case 'W': *k = Kind::kNotWord; return;
      case 't': *c = '\t'; return;
      case 'n': *c = '\n'; return;
      case 'r': *c = '\r'; return;
      case 'f': *c = '\f'; return;
      case 'v': *c = '\v'; return;
      default:
        // Escaped punctuation stands for itself; other escaped letters/digits are classes or
        // assertions we do not have.
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9') ||
            static_cast<unsigned char>(e) >= 0x80) {
          unsupported();
        }
        *c = static_cast<unsigned char>(e);
    }
  };
  size_t i = 0;
  p.alternatives_.emplace_back();
  while (i < text.size()) {
    Atom a;
    size_t len;
    const char c = text[i];
    if (c == '|') {
      p.alternatives_.emplace_back();
      ++i;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) unsupported();
      escape(text[i + 1], &a.kind, &a.c);
      i += 2;
    } else if (c == '.') {
      a.kind = Kind::kAny;
      ++i;
    } else if (c == '[') {
      a.kind = Kind::kClass;
      ++i;
      if (i < text.size() && text[i] == '^') {
        a.negated = true;
        ++i;
      }
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == ']' && !a.items.empty()) {
          closed = true;
          ++i;
          break;
        }
        if (text[i] == '[') unsupported();  // nested classes, [:alpha:]
        ClassItem item;
        if (text[i] == '\\') {
          if (i + 1 >= text.size()) unsupported();
          escape(text[i + 1], &item.kind, &item.lo);
          i += 2;
        } else {
          item.lo = Next(text, i, &len);
          i += len;
        }
        item.hi = item.lo;
        if (item.kind == Kind::kChar && i + 1 < text.size() && text[i] == '-' && text[i + 1] != ']') {
          ++i;
          Kind k = Kind::kChar;
          if (text[i] == '\\') {
            if (i + 1 >= text.size()) unsupported();
            escape(text[i + 1], &k, &item.hi);
            i += 2;
          } else {
            item.hi = Next(text, i, &len);
            i += len;
          }
          if (k != Kind::kChar || item.hi < item.lo) unsupported();
        }
        a.items.push_back(item);
      }
      if (!closed) unsupported();
    } else if (c == '(' || c == ')' || c == ']' || c == '^' || c == '$' || c == '*' || c == '+' ||
               c == '?' || c == '{' || c == '}') {
      unsupported();
    } else {
      a.c = Next(text, i, &len);
      i += len;
    }
    if (i < text.size()) {
      const char q = text[i];
      if (q == '*') { a.min = 0; a.max = kUnbounded; ++i; }
      else if (q == '+') { a.max = kUnbounded; ++i; }
      else if (q == '?') { a.min = 0; ++i; }
      else if (q == '{') {
        const size_t close = text.find('}', i);
        if (close == std::string::npos) unsupported();
        const std::string body = text.substr(i + 1, close - i - 1);
        const size_t comma = body.find(',');
        auto number = [&](const std::string& t) -> size_t {
          if (t.empty() || t.size() > 6 || t.find_first_not_of("0123456789") != std::string::npos) unsupported();
          return static_cast<size_t>(std::stoul(t));
        };
        if (comma == std::string::npos) {
          a.min = a.max = number(body);
        } else {
          a.min = number(body.substr(0, comma));
          const std::string hi = body.substr(comma + 1);
          a.max = hi.empty() ? kUnbounded : number(hi);
        }
        if (a.max < a.min) unsupported();
        i = close + 1;
      }
      if (i < text.size() && (text[i] == '?' || text[i] == '+' || text[i] == '*' || text[i] == '{')) unsupported();
    }
    p.alternatives_.back().push_back(std::move(a));
  }
  for (const Sequence& seq : p.alternatives_) {
    bool can_be_empty = true;
    for (const Atom& a : seq) can_be_empty = can_be_empty && a.min == 0;
    if (can_be_empty) s.Fail("regex \"" + text + "\" can match the empty string, which is not supported");
  }
  return p;
}

bool Pattern::AcceptsKind(Kind k, char32_t c) {
  switch (k) {
    case Kind::kSpace: return unicode::IsWhitespace(c);
    case Kind::kNotSpace: return !unicode::IsWhitespace(c);
    case Kind::kDigit: return unicode::IsDecimalDigit(c);
    case Kind::kNotDigit: return !unicode::IsDecimalDigit(c);
    case Kind::kWord: return unicode::IsRegexWordChar(c);
    case Kind::kNotWord: return !unicode::IsRegexWordChar(c);
    case Kind::kAny: return c != '\n';
    default: return false;
  }
}

bool Pattern::Accepts(const Atom& a, char32_t c) {
  if (a.kind == Kind::kChar) return c == a.c;
  if (a.kind != Kind::kClass) return AcceptsKind(a.kind, c);
  bool in = false;
  for (const ClassItem& item : a.items) {
    if (item.kind == Kind::kChar ? (c >= item.lo && c <= item.hi) : AcceptsKind(item.kind, c)) {
      in = true;
      break;
    }
  }
  return in != a.negated;
}

size_t Pattern::MatchFrom(const Sequence& seq, std::string_view text, size_t i, size_t pos) const {
  if (i == seq.size()) return pos;
  const Atom& a = seq[i];
  // Greedy: take as many as allowed, then give back one at a time.
  std::vector<size_t> ends{pos};
  size_t at = pos;
  while (ends.size() - 1 < a.max && at < text.size()) {
    size_t len;
    const char32_t c = Next(text, at, &len);
    if (!Accepts(a, c)) break;
    at += len;
    ends.push_back(at);
  }
  for (size_t n = ends.size() - 1;; --n) {
    if (n < a.min) return kNone;
    const size_t end = MatchFrom(seq, text, i + 1, ends[n]);
    if (end != kNone) return end;
    if (n == 0) return kNone;
  }
}

bool Pattern::Find(std::string_view text, size_t from, size_t* begin, size_t* end) const {
  if (alternatives_.empty()) {
    const size_t at = text.find(literal_, from);
    if (at == std::string_view::npos) return false;
    *begin = at;
    *end = at + literal_.size();
    return true;
  }
  for (size_t pos = from; pos < text.size();) {
    size_t len;
    const char32_t c = Next(text, pos, &len);
    for (const Sequence& seq : alternatives_) {
      // Most positions fail on their first character: skip them without the backtracking matcher.
      if (seq[0].min > 0 && !Accepts(seq[0], c)) continue;
      const size_t e = MatchFrom(seq, text, 0, pos);
      if (e != kNone && e > pos) {
        *begin = pos;
        *end = e;
        return true;
      }
    }
    pos += len;
  }
  return false;
}

}  // namespace tce::tok
