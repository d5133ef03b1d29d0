// Precompiled: sentencepiece's normalization rules (nmt_nfkc and the like) as sentencepiece
// stores them in its model, a "precompiled charsmap": a little-endian u32 byte size of a
// darts-clone double-array trie, the trie's u32 units, then a blob of NUL-terminated
// replacement strings. Applied as tokenizers applies it: text is cut into extended grapheme
// clusters; a cluster shorter than 6 bytes whose bytes start with a trie key is replaced as a
// whole by the replacement of its shortest such key; otherwise each character is looked up on
// its own (replaced when it starts with a key, kept when not). A map on which tokenizers would fail
// (empty, truncated, a trie that leads outside itself, a replacement inside a character) is
// refused when the tokenizer is built.
#include <utf8proc.h>

#include <cstdint>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/normalizers/replay.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

bool DecodeBase64(const std::string& in, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const int v = value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') return false;
  }
  return true;
}

class Precompiled final : public Normalizer {
 public:
  Precompiled(std::vector<uint32_t> trie, std::string normalized)
      : trie_(std::move(trie)), normalized_(std::move(normalized)) {}

  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    if (align == nullptr) {
      Run(in, out, nullptr);
      return;
    }
    // tokenizers turns the text into (char, change) pairs and replays them only when some part
    // was replaced; otherwise the text and its ranges stay as they are.
    std::string text;
    std::vector<std::pair<char32_t, long>> changes;
    if (!Run(in, text, &changes)) {
      out.append(in);
      AppendOwnRanges(in, 0, in.size(), *align);
      return;
    }
    ChangeReplay replay(in, 0, out, *align);
    for (const auto& [c, change] : changes) replay.Put(c, change);
  }

 private:
  // Appends the normalized text to `out` and, when `changes` is not null, the (char, change)
  // pairs tokenizers builds for it. Returns whether anything was replaced.
  bool Run(std::string_view in, std::string& out, std::vector<std::pair<char32_t, long>>* changes) const {
    const auto* base = reinterpret_cast<const unsigned char*>(in.data());
    const auto* end = base + in.size();
    bool modified = false;
    size_t at = 0;
    while (at < in.size()) {
      // One extended grapheme cluster: [at, stop).
      utf8proc_int32_t state = 0;
      size_t len;
      char32_t prev = unicode::DecodeUtf8(base + at, end, &len);
      size_t stop = at + len;
      while (stop < in.size()) {
        const char32_t c = unicode::DecodeUtf8(base + stop, end, &len);
        if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                             static_cast<utf8proc_int32_t>(c), &state)) {
          break;
        }
        prev = c;
        stop += len;
      }
      const std::string_view cluster = in.substr(at, stop - at);
      std::string_view replacement;
      if (cluster.size() < 6 && Transform(cluster, &replacement)) {
        out.append(replacement);
        modified = true;
        if (changes != nullptr) AddReplacement(cluster, replacement, *changes);
      } else {
        for (size_t c = at; c < stop; c += len) {
          const char32_t ch = unicode::DecodeUtf8(base + c, end, &len);
          const std::string_view one = in.substr(c, len);
          if (Transform(one, &replacement)) {
            out.append(replacement);
            modified = true;
            if (changes != nullptr) AddReplacement(one, replacement, *changes);
          } else {
            out.append(one);
            if (changes != nullptr) changes->emplace_back(ch, 0);
          }
        }
      }
      at = stop;
    }
    return modified;
  }

  // The pairs tokenizers' Precompiled gives a replaced part: its new characters with change 0,
  // except that the last (new - old) become insertions when it grows, and when it shrinks the
  // last pair so far (possibly one written before this part) swallows the difference.
  static void AddReplacement(std::string_view old_part, std::string_view new_part,
                             std::vector<std::pair<char32_t, long>>& changes) {
    const auto count = [](std::string_view s) {
      long n = 0;
      for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      return n;
    };
    const long diff = count(new_part) - count(old_part);
    const auto* p = reinterpret_cast<const unsigned char*>(new_part.data());
    const auto* end = p + new_part.size();
    while (p < end) {
      size_t len;
      changes.emplace_back(unicode::DecodeUtf8(p, end, &len), 0);
      p += len;
    }
    if (diff > 0) {
      for (long i = 0; i < diff; ++i) changes[changes.size() - 1 - static_cast<size_t>(i)].second = 1;
    } else if (diff < 0 && !changes.empty()) {
      changes.back().second += diff;
    }
  }

  // darts-clone unit layout.
  static bool HasLeaf(uint32_t unit) { return ((unit >> 8) & 1) == 1; }
  static uint32_t Value(uint32_t unit) { return unit & ((1u << 31) - 1); }
  static uint32_t Label(uint32_t unit) { return unit & ((1u << 31) | 0xFF); }
  static uint32_t Offset(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }

  // The replacement of the shortest trie key that `chunk` starts with. A position outside the
  // trie or the blob (a malformed file) counts as no match.
  bool Transform(std::string_view chunk, std::string_view* replacement) const {
    if (trie_.empty()) return false;
    size_t node = 0;
    uint32_t unit = trie_[node];
    node ^= Offset(unit);
    for (char ch : chunk) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == 0) break;
      node ^= c;
      if (node >= trie_.size()) return false;
      unit = trie_[node];
      if (Label(unit) != c) return false;
      node ^= Offset(unit);
      if (HasLeaf(unit)) {
        if (node >= trie_.size()) return false;
        const size_t begin = Value(trie_[node]);
        // A replacement starts at a character: one starting on a UTF-8 continuation byte (a
        // malformed file) would put ill-formed UTF-8 into the text, so it counts as no match.
        if (begin > normalized_.size()) return false;
        if (begin < normalized_.size() && (static_cast<unsigned char>(normalized_[begin]) & 0xC0) == 0x80) {
          return false;
        }
        size_t stop = normalized_.find('\0', begin);
        if (stop == std::string::npos) stop = normalized_.size();
        *replacement = std::string_view(normalized_).substr(begin, stop - begin);
        return true;
      }
    }
    return false;
  }

  std::vector<uint32_t> trie_;
  std::string normalized_;

  friend std::string TrieProblem(const std::vector<uint32_t>& trie, const std::string& normalized);
};

// What makes `tokenizers` fail on this map, or "". Its reader (spm_precompiled) walks the trie
// without bounds checks and slices the replacement strings at a leaf's offset, so a trie step
// outside the units, or a replacement that starts past the strings or inside a character, is a
// panic on the first text that reaches it. darts-clone, which writes these tries, allocates units
// in blocks of 256, so every node it reaches has all 256 children's units in the array: that is
// checked for every node reachable from the root, with each leaf's replacement.
std::string TrieProblem(const std::vector<uint32_t>& trie, const std::string& normalized) {
  using P = Precompiled;
  if (trie.empty()) return "its trie is empty";
  std::vector<size_t> pending{P::Offset(trie[0])};
  std::unordered_set<size_t> seen{pending.back()};
  while (!pending.empty()) {
    const size_t node = pending.back();
    pending.pop_back();
    if ((node | 0xFF) >= trie.size()) return "its trie points outside its units";
    for (uint32_t c = 1; c < 256; ++c) {
      const uint32_t unit = trie[node ^ c];
      if (P::Label(unit) != c) continue;
      const size_t next = (node ^ c) ^ P::Offset(unit);
      if (P::HasLeaf(unit)) {
        if (next >= trie.size()) return "its trie points outside its units";
        const size_t begin = P::Value(trie[next]);
        if (begin > normalized.size() ||
            (begin < normalized.size() && (static_cast<unsigned char>(normalized[begin]) & 0xC0) == 0x80)) {
          return "a replacement starts outside a character of its strings";
        }
      }
      if (seen.insert(next).second) pending.push_back(next);
    }
  }
  return "";
}

}  // namespace

std::unique_ptr<Normalizer> MakePrecompiled(const Settings& s) {
  std::string bytes;
  const JsonValue* map = s.value().Get("precompiled_charsmap");
  if (map == nullptr || map->is_null()) {
    // tokenizers refuses a missing charsmap; an empty one normalizes nothing.
    s.Fail("\"precompiled_charsmap\" is missing");
  }
  if (!map->is_string() || !DecodeBase64(map->string, bytes)) {
    s.Fail("\"precompiled_charsmap\" must be a base64 string");
  }
  // tokenizers cannot read an empty map (it needs the trie's size).
  if (bytes.empty()) s.Fail("\"precompiled_charsmap\" is empty");
  auto u32 = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at])) |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 3])) << 24;
  };
  if (bytes.size() < 4) s.Fail("\"precompiled_charsmap\" is truncated");
  const size_t trie_bytes = u32(0);
  if (trie_bytes / 4 * 4 > bytes.size() - 4) s.Fail("\"precompiled_charsmap\" is truncated");
  std::vector<uint32_t> trie(trie_bytes / 4);
  for (size_t i = 0; i < trie.size(); ++i) trie[i] = u32(4 + 4 * i);
  std::string normalized = bytes.substr(4 + trie.size() * 4);
  if (!unicode::IsValidUtf8(normalized.data(), normalized.size())) {
    s.Fail("\"precompiled_charsmap\": the replacement strings are not valid UTF-8");
  }
  const std::string problem = TrieProblem(trie, normalized);
  if (!problem.empty()) s.Fail("\"precompiled_charsmap\" is malformed: " + problem);
  return std::make_unique<Precompiled>(std::move(trie), std::move(normalized));
}

}  // namespace tce::tok
