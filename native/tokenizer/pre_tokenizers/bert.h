// BERT's pre-tokenizer: split on White_Space (dropped), then isolate every punctuation
// character as a word of its own.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenizer/unicode.h"

namespace tce::tok {

enum class CharKind : uint8_t { kWord, kSpace, kPunct };

// Classes of the ASCII bytes; the non-ASCII ones go through unicode::.
constexpr std::array<CharKind, 128> MakeAsciiKinds() {
  std::array<CharKind, 128> kinds{};
  for (int c = 0; c < 128; ++c) {
    const bool space = c == ' ' || (c >= 0x09 && c <= 0x0D);
    const bool punct = (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
                       (c >= 123 && c <= 126);
    kinds[c] = space ? CharKind::kSpace : punct ? CharKind::kPunct : CharKind::kWord;
  }
  return kinds;
}
inline constexpr std::array<CharKind, 128> kAsciiKind = MakeAsciiKinds();

// Calls on_word(std::string_view word, size_t chars) for each word of `text` in order, and
// stops early when on_word returns false. Inline so the per-word callback is not an indirect call.
template <typename OnWord>
void PreTokenize(std::string_view text, OnWord&& on_word) {
  const auto* base = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = base + text.size();
  const unsigned char* p = base;
  const unsigned char* word = nullptr;  // start of the word being built
  size_t chars = 0;
  auto finish = [&](const unsigned char* at) -> bool {
    if (word == nullptr) return true;
    const bool go_on = on_word(
        std::string_view(reinterpret_cast<const char*>(word), static_cast<size_t>(at - word)),
        chars);
    word = nullptr;
    chars = 0;
    return go_on;
  };
  while (p < end) {
    CharKind kind;
    size_t len;
    if (*p < 0x80) {
      kind = kAsciiKind[*p];
      len = 1;
    } else {
      const char32_t c = unicode::DecodeUtf8(p, end, &len);
      kind = unicode::IsWhitespace(c)    ? CharKind::kSpace
             : unicode::IsPunctuation(c) ? CharKind::kPunct
                                         : CharKind::kWord;
    }
    if (kind == CharKind::kWord) {
      if (word == nullptr) word = p;
      ++chars;
    } else {
      if (!finish(p)) return;
      if (kind == CharKind::kPunct) {
        word = p;
        chars = 1;
        if (!finish(p + len)) return;
      }
    }
    p += len;
  }
  finish(end);
}

}  // namespace tce::tok
