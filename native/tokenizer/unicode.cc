#include "tokenizer/unicode.h"

#include <utf8proc.h>

namespace tce::tok::unicode {

namespace {

utf8proc_category_t Category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool IsPunctCategory(utf8proc_category_t cat) {
  switch (cat) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool IsAsciiWordChar(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// The general categories both regex flavours' \w take: letters, marks, Nd, Nl and Pc.
bool HasWordCategory(char32_t c) {
  switch (Category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool IsControl(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (Category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
      return true;
    default:
      return false;
  }
}

bool IsPunctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  }
  return IsPunctCategory(Category(c));
}

bool IsNonspacingMark(char32_t c) { return Category(c) == UTF8PROC_CATEGORY_MN; }

bool IsWordChar(char32_t c) {
  if (c < 0x80) return IsAsciiWordChar(c);
  if (c == 0x200C || c == 0x200D) return true;  // Join_Control is part of \w
  return HasWordCategory(c);
}

bool IsLetter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  switch (Category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return true;
    default:
      return false;
  }
}

bool IsNumber(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  switch (Category(c)) {
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

bool IsMark(char32_t c) {
  if (c < 0x300) return false;
  switch (Category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return true;
    default:
      return false;
  }
}

bool IsValidUtf8(const char* text, size_t size) {
  const auto* p = reinterpret_cast<const unsigned char*>(text);
  const auto* end = p + size;
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    size_t len;
    if (DecodeUtf8(p, end, &len) == kReplacement) {
      // U+FFFD itself is valid (EF BF BD); anything else decoding to it was ill-formed.
      if (!(len == 3 && p[0] == 0xEF && p[1] == 0xBF && p[2] == 0xBD)) return false;
    }
    p += len;
  }
  return true;
}

void ReplaceInvalidUtf8(const char* text, size_t size, std::string& fixed) {
  fixed.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(text);
  const auto* end = p + size;
  while (p < end) {
    size_t len;
    AppendUtf8(DecodeUtf8(p, end, &len), fixed);
    p += len;
  }
}

bool IsRegexWordChar(char32_t c) {
  if (c < 0x80) return IsAsciiWordChar(c);
  if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
      (c >= 0x1F170 && c <= 0x1F189)) {
    return true;  // Other_Alphabetic symbols
  }
  return HasWordCategory(c);
}

int CombiningClass(char32_t c) {
  if (c < 0x300) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

size_t Decompose(char32_t c, char32_t* out) {
  if (c < 0xC0) {
    out[0] = c;
    return 1;
  }
  utf8proc_int32_t buf[kMaxDecomposition];
  int last_boundclass = 0;
  const utf8proc_ssize_t n =
      utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, kMaxDecomposition,
                              UTF8PROC_DECOMPOSE, &last_boundclass);
  // Canonical decompositions are at most 4 code points; anything else means utf8proc refused
  // the input, and the character is kept as it is.
  if (n <= 0 || static_cast<size_t>(n) > kMaxDecomposition) {
    out[0] = c;
    return 1;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out[i] = static_cast<char32_t>(buf[i]);
  return static_cast<size_t>(n);
}

void AppendLowercase(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    return;
  }
  // utf8proc carries the simple mappings; U+0130 is the only code point whose unconditional
  // full lowercase mapping (SpecialCasing.txt) differs from the simple one.
  if (c == 0x130) {
    out.push_back('i');
    AppendUtf8(0x307, out);
    return;
  }
  AppendUtf8(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))), out);
}

}  // namespace tce::tok::unicode
