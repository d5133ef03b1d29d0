#include "tokenizer/offsets.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

// Byte length of the UTF-8 sequence a lead byte starts (1 for a stray continuation byte, which
// valid text never has).
inline size_t SequenceLength(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

void AppendIdentityAlignment(std::string_view text, uint32_t base, Alignment& align) {
  align.reserve(align.size() + text.size());
  for (size_t at = 0; at < text.size();) {
    const size_t len = std::min(SequenceLength(static_cast<unsigned char>(text[at])), text.size() - at);
    const ByteRange r{base + static_cast<uint32_t>(at), base + static_cast<uint32_t>(at + len)};
    align.insert(align.end(), len, r);
    at += len;
  }
}

ByteRange WordRangeToOriginal(const ByteRange* word_align, size_t word_len, ByteRange r) {
  if (r.begin == r.end) {
    const uint32_t shift = word_len > 0 ? word_align[0].begin : 0;
    return {shift + r.begin, shift + r.end};
  }
  if (r.begin > r.end || r.end > word_len) return r;
  return {word_align[r.begin].begin, word_align[r.end - 1].end};
}

void TrimOffsets(std::string_view token, size_t index, bool add_prefix_space, ByteRange& offsets) {
  const auto* base = reinterpret_cast<const unsigned char*>(token.data());
  const auto* end = base + token.size();
  auto is_space = [](char32_t c) { return c == 0x120 || unicode::IsWhitespace(c); };
  size_t leading = 0;
  const unsigned char* p = base;
  while (p < end) {
    size_t len;
    if (!is_space(unicode::DecodeUtf8(p, end, &len))) break;
    p += len;
    ++leading;
  }
  size_t trailing = 0;
  if (p == end) {
    trailing = leading;  // all spaces: tokenizers counts them from both ends
  } else {
    const unsigned char* q = end;
    while (q > base) {
      const unsigned char* start = q - 1;
      while (start > base && (*start & 0xC0) == 0x80) --start;
      size_t len;
      if (!is_space(unicode::DecodeUtf8(start, end, &len))) break;
      q = start;
      ++trailing;
    }
  }
  if (leading > 0) {
    const bool first = index == 0 || offsets.begin == 0;
    if (first && add_prefix_space && leading == 1) leading = 0;
    offsets.begin = static_cast<uint32_t>(std::min<size_t>(offsets.begin + leading, offsets.end));
  }
  if (trailing > 0 && offsets.end >= trailing) {
    offsets.end = static_cast<uint32_t>(std::max<size_t>(offsets.end - trailing, offsets.begin));
  }
}

void Utf16Positions(std::string_view text, std::vector<uint32_t>& units) {
  units.assign(text.size() + 1, 0);
  uint32_t u = 0;
  for (size_t at = 0; at < text.size();) {
    const size_t len = std::min(SequenceLength(static_cast<unsigned char>(text[at])), text.size() - at);
    for (size_t k = 0; k < len; ++k) units[at + k] = u;
    u += len == 4 ? 2 : 1;
    at += len;
  }
  units[text.size()] = u;
}

}  // namespace tce::tok
