// Code point level helpers: UTF-8 decoding/encoding and the character classes BERT's
// normalizer and pre-tokenizer need. Character properties come from utf8proc; ASCII is answered
// from tables because almost all biomedical text is ASCII and these calls sit on the hot path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tce::tok::unicode {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes the code point starting at p (p < end) and stores its byte length in *len.
// Ill-formed input yields U+FFFD per maximal ill-formed subpart (the Unicode/WHATWG practice
// that Rust's from_utf8_lossy follows too), so encoded surrogates and overlongs never leak out.
inline char32_t DecodeUtf8(const unsigned char* p, const unsigned char* end, size_t* len) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  size_t need;
  char32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;       // overlong
    else if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;       // overlong
    else if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    *len = 1;
    return kReplacement;
  }
  for (size_t i = 1; i <= need; ++i) {
    if (p + i >= end || p[i] < lo || p[i] > hi) {
      *len = i;
      return kReplacement;
    }
    lo = 0x80;
    hi = 0xBF;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  *len = need + 1;
  return cp;
}

inline void AppendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Rust's char::is_whitespace (the White_Space property), which both the normalizer and the
// pre-tokenizer use. The property is small and stable, so it is spelled out.
inline bool IsWhitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Characters clean_text drops: Cc, Cf, Co (tab, LF and CR excepted: they are whitespace).
// Unassigned code points (Cn) are kept, as the fast tokenizer keeps them.
bool IsControl(char32_t c);

// BERT's punctuation: all ASCII non-alphanumeric printables (so $ + < = > ^ ` | ~ count), plus
// Unicode general category P*.
bool IsPunctuation(char32_t c);

// The CJK ideograph blocks that get spaces around them (BERT's original list, kept verbatim by
// Hugging Face; later CJK extensions are deliberately not in it).
inline bool IsChineseChar(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool IsNonspacingMark(char32_t c);

// True for what Rust's regex \w matches (alphanumerics, marks, connector punctuation); used only
// for added tokens with single_word.
bool IsWordChar(char32_t c);

// What Oniguruma's \w matches (tokenizers' regexes run on Oniguruma): Alphabetic, marks, Nd and
// Pc. Alphabetic is L, Nl and Other_Alphabetic, whose members outside M are the circled and
// squared Latin letters. Unlike Rust's \w, the join controls are not word characters.
bool IsRegexWordChar(char32_t c);

int CombiningClass(char32_t c);

// General categories used by the hand-written pre-tokenizers (ByteLevel's GPT-2 split):
// L* (\p{L}), N* (\p{N}), M* (StripAccents' combining marks).
bool IsLetter(char32_t c);
bool IsNumber(char32_t c);
bool IsMark(char32_t c);

// Whether `text` is well-formed UTF-8; if not, `fixed` receives it with U+FFFD per maximal
// ill-formed subpart (as DecodeUtf8 reads it).
bool IsValidUtf8(const char* text, size_t size);
void ReplaceInvalidUtf8(const char* text, size_t size, std::string& fixed);

// Canonical decomposition (NFD, before reordering) of c into out[0..return); out has room for
// kMaxDecomposition code points.
constexpr size_t kMaxDecomposition = 8;
size_t Decompose(char32_t c, char32_t* out);

// Appends the full lowercase mapping of c (Rust's char::to_lowercase: one code point except for
// U+0130, which becomes "i" + U+0307). Context-free: no final-sigma rule.
void AppendLowercase(char32_t c, std::string& out);

}  // namespace tce::tok::unicode
