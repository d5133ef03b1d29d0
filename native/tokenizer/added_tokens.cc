#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

// The last / first code point of a UTF-8 string (which must be non-empty).
char32_t LastChar(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t len;
  return unicode::DecodeUtf8(p + i, p + s.size(), &len);
}

char32_t FirstChar(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t len;
  return unicode::DecodeUtf8(p, p + s.size(), &len);
}

// Start of the whitespace run that ends s.
size_t TrailingSpaceStart(std::string_view s) {
  size_t i = s.size();
  while (i > 0) {
    size_t j = i - 1;
    while (j > 0 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t len;
    if (!unicode::IsWhitespace(unicode::DecodeUtf8(p + j, p + s.size(), &len))) break;
    i = j;
  }
  return i;
}

// Length of the whitespace run that starts s.
size_t LeadingSpaceLength(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  size_t i = 0;
  while (i < s.size()) {
    size_t len;
    if (!unicode::IsWhitespace(unicode::DecodeUtf8(p + i, end, &len))) break;
    i += len;
  }
  return i;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedPattern> patterns) {
  for (auto& p : patterns) {
    if (!p.content.empty()) patterns_.push_back(std::move(p));
  }
  for (size_t i = 0; i < patterns_.size(); ++i) {
    by_first_byte_[static_cast<unsigned char>(patterns_[i].content[0])].push_back(
        static_cast<int>(i));
  }
  for (auto& list : by_first_byte_) {
    // Longest first; among equal contents the first registered wins, as in the fast tokenizer.
    std::stable_sort(list.begin(), list.end(), [this](int a, int b) {
      return patterns_[a].content.size() > patterns_[b].content.size();
    });
  }
}

int AddedTokenMatcher::Longest(std::string_view text, size_t pos) const {
  const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[pos])];
  for (int i : candidates) {
    const std::string& c = patterns_[i].content;
    if (c.size() <= text.size() - pos && std::memcmp(text.data() + pos, c.data(), c.size()) == 0) {
      return i;
    }
  }
  return -1;
}

void AddedTokenMatcher::Split(std::string_view text, std::vector<Segment>& out) const {
  out.clear();
  size_t done = 0;  // end of the last match: text before it is settled
  size_t pos = 0;
  while (pos < text.size()) {
    if (by_first_byte_[static_cast<unsigned char>(text[pos])].empty()) {
      ++pos;
      continue;
    }
    const int which = Longest(text, pos);
    if (which < 0) {
      ++pos;
      continue;
    }
    const AddedPattern& p = patterns_[which];
    size_t start = pos;
    size_t stop = pos + p.content.size();
    pos = stop;  // scanning resumes after the match whether or not it is used
    if (p.single_word) {
      const bool word_before = start > 0 && unicode::IsWordChar(LastChar(text.substr(0, start)));
      const bool word_after = stop < text.size() && unicode::IsWordChar(FirstChar(text.substr(stop)));
      if (word_before || word_after) continue;
    }
    if (p.lstrip) {
      // Whitespace already consumed by the previous match's rstrip stays with it.
      start = std::max(TrailingSpaceStart(text.substr(0, start)), done);
    }
    if (p.rstrip) {
      stop += LeadingSpaceLength(text.substr(stop));
      pos = stop;
    }
    if (done < start) out.push_back(Segment{done, start, -1});
    out.push_back(Segment{start, stop, p.id});
    done = stop;
  }
  if (done < text.size()) out.push_back(Segment{done, text.size(), -1});
}

}  // namespace tce::tok
