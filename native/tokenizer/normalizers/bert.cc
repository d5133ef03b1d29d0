#include "tokenizer/normalizers/bert.h"

#include <algorithm>
#include <type_traits>

#include "tokenizer/unicode.h"

namespace tce::tok {

// No alignment: every hook is empty and inlines away, so this instantiation is the plain pass.
struct BertNormalizer::Plain {
  std::vector<char32_t>& pending;
  bool HasPending() const { return !pending.empty(); }
  void Hold(char32_t c, bool, ByteRange) { pending.push_back(c); }
  ByteRange Consume(ByteRange source) { return source; }
  ByteRange Follow() const { return {}; }
  void Wrote(size_t, ByteRange) {}
};

// Alignment as tokenizers' NormalizedString computes it through the same stages. Clean text
// filters (a kept character keeps its range), CJK spacing gives both spaces the ideograph's
// range, lowercase gives every output character its source's range. NFD is positional:
// tokenizers walks the decomposed characters in output order with a cursor over its input,
// and a character with change 0 (the first of a decomposition) takes the range of the next input
// character while one with change +1 takes the range of the last one taken ({0, 0} before
// any). After canonical reordering that is not always the mark's own source, so the cursor
// is replayed here: `last` is the range of the last input character taken.
struct BertNormalizer::Aligned {
  Alignment& align;
  std::vector<Mark> pending;
  std::vector<ByteRange> firsts;
  ByteRange last{};
  bool HasPending() const { return !pending.empty(); }
  void Hold(char32_t c, bool first, ByteRange source) { pending.push_back({c, first, source}); }
  ByteRange Consume(ByteRange source) { return last = source; }
  ByteRange Follow() const { return last; }
  void Wrote(size_t bytes, ByteRange r) { align.insert(align.end(), bytes, r); }
};

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

void BertNormalizer::Normalize(std::string_view in, std::string& out, std::vector<char32_t>& pending,
                               Alignment* align) const {
  pending.clear();
  if (align == nullptr) {
    Plain track{pending};
    Run(in, out, track);
  } else {
    Aligned track{*align, {}, {}, {}};
    Run(in, out, track);
  }
}

template <class Track>
void BertNormalizer::Run(std::string_view in, std::string& out, Track& track) const {
  const auto* base = reinterpret_cast<const unsigned char*>(in.data());
  const auto* p = base;
  const auto* end = p + in.size();
  while (p < end) {
    const auto at = static_cast<uint32_t>(p - base);
    if (*p < 0x80) {
      // An ASCII character is a starter (combining class 0), so it closes any run of
      // combining marks waiting to be put in canonical order.
      if (track.HasPending()) Flush(out, track);
      const int16_t v = ascii_[*p++];
      if (v != kDrop) {
        out.push_back(static_cast<char>(v));
        track.Wrote(1, track.Consume({at, at + 1}));
      }
      continue;
    }
    size_t len;
    const char32_t c = unicode::DecodeUtf8(p, end, &len);
    p += len;
    EmitNonAscii(c, {at, at + static_cast<uint32_t>(len)}, out, track);
  }
  if (track.HasPending()) Flush(out, track);
}

template <class Track>
void BertNormalizer::EmitNonAscii(char32_t c, ByteRange source, std::string& out, Track& track) const {
  if (options_.clean_text) {
    if (c == unicode::kReplacement || unicode::IsControl(c)) return;
    if (unicode::IsWhitespace(c)) c = ' ';
  }
  if (options_.handle_chinese_chars && unicode::IsChineseChar(c)) {
    if (track.HasPending()) Flush(out, track);
    out.push_back(' ');
    track.Wrote(1, track.Consume(source));
    // Compatibility ideographs (F900-FAFF, 2F800-2FA1F) still decompose to unified ones.
    EmitStripped(c, source, out, track);
    if (track.HasPending()) Flush(out, track);
    out.push_back(' ');
    track.Wrote(1, track.Consume(source));
    return;
  }
  EmitStripped(c, source, out, track);
}

template <class Track>
void BertNormalizer::EmitStripped(char32_t c, ByteRange source, std::string& out, Track& track) const {
  if (!options_.strip_accents) {
    EmitFinal(c, track.Consume(source), out, track);
    return;
  }
  char32_t parts[unicode::kMaxDecomposition];
  const size_t n = unicode::Decompose(c, parts);
  for (size_t i = 0; i < n; ++i) {
    // NFD sorts each maximal run of non-starters by combining class; the run is held back
    // until the next starter shows where it ends.
    if (unicode::CombiningClass(parts[i]) != 0) {
      track.Hold(parts[i], i == 0, source);
    } else {
      if (track.HasPending()) Flush(out, track);
      const ByteRange r = i == 0 ? track.Consume(source) : track.Follow();
      if (!unicode::IsNonspacingMark(parts[i])) EmitFinal(parts[i], r, out, track);
    }
  }
}

template <class Track>
void BertNormalizer::Flush(std::string& out, Track& track) const {
  auto& pending = track.pending;
  if constexpr (std::is_same_v<Track, Aligned>) {
    // The input characters this run takes, in input order, before the sort moves their marks.
    track.firsts.clear();
    for (const Mark& m : pending) {
      if (m.first) track.firsts.push_back(m.source);
    }
    if (pending.size() > 1) {
      std::stable_sort(pending.begin(), pending.end(), [](const Mark& a, const Mark& b) {
        return unicode::CombiningClass(a.c) < unicode::CombiningClass(b.c);
      });
    }
    size_t next = 0;
    for (const Mark& m : pending) {
      const ByteRange r = m.first ? track.Consume(track.firsts[next++]) : track.Follow();
      if (!unicode::IsNonspacingMark(m.c)) EmitFinal(m.c, r, out, track);
    }
  } else {
    if (pending.size() > 1) {
      std::stable_sort(pending.begin(), pending.end(), [](char32_t a, char32_t b) {
        return unicode::CombiningClass(a) < unicode::CombiningClass(b);
      });
    }
    for (char32_t c : pending) {
      if (!unicode::IsNonspacingMark(c)) EmitFinal(c, ByteRange{}, out, track);
    }
  }
  pending.clear();
}

template <class Track>
void BertNormalizer::EmitFinal(char32_t c, ByteRange source, std::string& out, Track& track) const {
  const size_t before = out.size();
  if (options_.lowercase) {
    unicode::AppendLowercase(c, out);
  } else {
    unicode::AppendUtf8(c, out);
  }
  track.Wrote(out.size() - before, source);
}

}  // namespace tce::tok
