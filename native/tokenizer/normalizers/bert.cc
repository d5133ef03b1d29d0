#include "tokenizer/normalizers/bert.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace tce::tok {

BertNormalizer::BertNormalizer(BertNormalizerOptions options) : options_(options) {
  for (int b = 0; b < 128; ++b) {
    const char32_t c = static_cast<char32_t>(b);
    int16_t v = static_cast<int16_t>(b);
    if (options_.clean_text) {
      if (c == 0 || unicode::IsControl(c)) {
        ascii_[b] = kDrop;
        continue;
      }
      if (unicode::IsWhitespace(c)) v = ' ';
    }
    if (options_.lowercase && v >= 'A' && v <= 'Z') v = static_cast<int16_t>(v + 32);
    ascii_[b] = v;
  }
}

void BertNormalizer::Normalize(std::string_view in, std::string& out,
                           std::vector<char32_t>& pending) const {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* end = p + in.size();
  pending.clear();
  while (p < end) {
    if (*p < 0x80) {
      // An ASCII character is a starter (combining class 0), so it closes any run of
      // combining marks waiting to be put in canonical order.
      if (!pending.empty()) Flush(out, pending);
      const int16_t v = ascii_[*p++];
      if (v != kDrop) out.push_back(static_cast<char>(v));
      continue;
    }
    size_t len;
    const char32_t c = unicode::DecodeUtf8(p, end, &len);
    p += len;
    EmitNonAscii(c, out, pending);
  }
  if (!pending.empty()) Flush(out, pending);
}

void BertNormalizer::EmitNonAscii(char32_t c, std::string& out, std::vector<char32_t>& pending) const {
  if (options_.clean_text) {
    if (c == unicode::kReplacement || unicode::IsControl(c)) return;
    if (unicode::IsWhitespace(c)) c = ' ';
  }
  if (options_.handle_chinese_chars && unicode::IsChineseChar(c)) {
    if (!pending.empty()) Flush(out, pending);
    out.push_back(' ');
    // Compatibility ideographs (F900-FAFF, 2F800-2FA1F) still decompose to unified ones.
    EmitStripped(c, out, pending);
    if (!pending.empty()) Flush(out, pending);
    out.push_back(' ');
    return;
  }
  EmitStripped(c, out, pending);
}

void BertNormalizer::EmitStripped(char32_t c, std::string& out, std::vector<char32_t>& pending) const {
  if (!options_.strip_accents) {
    EmitFinal(c, out);
    return;
  }
  char32_t parts[unicode::kMaxDecomposition];
  const size_t n = unicode::Decompose(c, parts);
  for (size_t i = 0; i < n; ++i) {
    // NFD sorts each maximal run of non-starters by combining class; the run is held back
    // until the next starter shows where it ends.
    if (unicode::CombiningClass(parts[i]) != 0) {
      pending.push_back(parts[i]);
    } else {
      if (!pending.empty()) Flush(out, pending);
      if (!unicode::IsNonspacingMark(parts[i])) EmitFinal(parts[i], out);
    }
  }
}

void BertNormalizer::Flush(std::string& out, std::vector<char32_t>& pending) const {
  if (pending.size() > 1) {
    std::stable_sort(pending.begin(), pending.end(), [](char32_t a, char32_t b) {
      return unicode::CombiningClass(a) < unicode::CombiningClass(b);
    });
  }
  for (char32_t c : pending) {
    if (!unicode::IsNonspacingMark(c)) EmitFinal(c, out);
  }
  pending.clear();
}

void BertNormalizer::EmitFinal(char32_t c, std::string& out) const {
  if (options_.lowercase) {
    unicode::AppendLowercase(c, out);
  } else {
    unicode::AppendUtf8(c, out);
  }
}

}  // namespace tce::tok
