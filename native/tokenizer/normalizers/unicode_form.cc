// NFC, NFD, NFKC, NFKD with utf8proc. With alignment, the form is computed step by step the way
// tokenizers' unicode-normalization-alignments computes it, because its (char, change) pairs
// decide the alignment: each character's decomposition gives change 0 to its first part and +1 to
// the rest; canonical reordering moves the pairs with their changes; a composition of k and c
// gets k's change + c's change - 1. The pairs are then replayed over the input (ChangeReplay).
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/normalizers/replay.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

struct Part {
  char32_t c;
  int ccc;
  long change;
};

// The primary composite of a + b (Hangul included), or 0. utf8proc composes a buffer without
// decomposing it first, which for two code points is exactly the pairwise composition.
char32_t Compose(char32_t a, char32_t b) {
  utf8proc_int32_t pair[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  const utf8proc_ssize_t n =
      utf8proc_normalize_utf32(pair, 2, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
  return n == 1 ? static_cast<char32_t>(pair[0]) : 0;
}

class UnicodeForm final : public Normalizer {
 public:
  UnicodeForm(utf8proc_option_t options, bool compat, bool compose)
      : options_(options), compat_(compat), compose_(compose) {}

  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    // ASCII is invariant under every form.
    bool ascii = true;
    for (char c : in) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      out.append(in);
      if (align != nullptr) AppendOwnRanges(in, 0, in.size(), *align);
      return;
    }
    if (align != nullptr) {
      NormalizeAligned(in, out, *align);
      return;
    }
    utf8proc_uint8_t* mapped = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                                            static_cast<utf8proc_ssize_t>(in.size()), &mapped, options_);
    if (n < 0) {
      // Only for ill-formed input, which the tokenizer never passes on.
      out.append(in);
      return;
    }
    out.append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
    std::free(mapped);
  }

 private:
  void NormalizeAligned(std::string_view in, std::string& out, Alignment& align) const {
    std::vector<Part> parts = Decompose(in);
    if (compose_) parts = Recompose(parts);
    ChangeReplay replay(in, 0, out, align);
    for (const Part& p : parts) replay.Put(p.c, p.change);
  }

  // Full (canonical or compatibility) decomposition in canonical order.
  std::vector<Part> Decompose(std::string_view in) const {
    const int options = UTF8PROC_DECOMPOSE | (compat_ ? UTF8PROC_COMPAT : 0);
    std::vector<Part> parts;
    parts.reserve(in.size());
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const auto* end = p + in.size();
    size_t run = 0;  // where the current run of non-starters begins
    auto close_run = [&] {
      std::stable_sort(parts.begin() + static_cast<std::ptrdiff_t>(run), parts.end(),
                       [](const Part& a, const Part& b) { return a.ccc < b.ccc; });
    };
    while (p < end) {
      size_t len;
      const char32_t c = unicode::DecodeUtf8(p, end, &len);
      p += len;
      utf8proc_int32_t buffer[32];
      int boundclass = UTF8PROC_BOUNDCLASS_START;
      utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buffer, 32,
                                                   static_cast<utf8proc_option_t>(options), &boundclass);
      if (n <= 0 || n > 32) {
        buffer[0] = static_cast<utf8proc_int32_t>(c);
        n = 1;
      }
      for (utf8proc_ssize_t i = 0; i < n; ++i) {
        const auto d = static_cast<char32_t>(buffer[i]);
        const int ccc = unicode::CombiningClass(d);
        if (ccc == 0) {
          close_run();
          run = parts.size() + 1;
        }
        parts.push_back({d, ccc, i == 0 ? 0L : 1L});
      }
    }
    close_run();
    return parts;
  }

  // Canonical composition over the decomposed parts, in the order and with the changes
  // unicode-normalization-alignments gives them: a starter waits as the composee; marks that do
  // not compose with it wait in `held` and come out after it.
  static std::vector<Part> Recompose(const std::vector<Part>& parts) {
    std::vector<Part> out;
    out.reserve(parts.size());
    std::vector<Part> held;
    bool has_composee = false;
    Part composee{};
    int last_ccc = -1;  // of the last held part; -1 when none is held
    for (const Part& p : parts) {
      if (!has_composee) {
        if (p.ccc != 0) {
          out.push_back(p);
          continue;
        }
        composee = p;
        has_composee = true;
        continue;
      }
      if (last_ccc < 0 || last_ccc < p.ccc) {
        if (const char32_t r = Compose(composee.c, p.c)) {
          composee = {r, unicode::CombiningClass(r), composee.change + p.change - 1};
          continue;
        }
        if (last_ccc < 0 && p.ccc == 0) {
          out.push_back(composee);
          composee = p;
          continue;
        }
        held.push_back(p);
        last_ccc = p.ccc;
        continue;
      }
      // Blocked from the composee by a held part of the same or a higher class.
      if (p.ccc == 0) {
        out.push_back(composee);
        out.insert(out.end(), held.begin(), held.end());
        held.clear();
        last_ccc = -1;
        composee = p;
        continue;
      }
      held.push_back(p);
      last_ccc = p.ccc;
    }
    if (has_composee) out.push_back(composee);
    out.insert(out.end(), held.begin(), held.end());
    return out;
  }

  utf8proc_option_t options_;
  bool compat_;
  bool compose_;
};

}  // namespace

std::unique_ptr<Normalizer> MakeUnicodeForm(const Settings& s) {
  const std::string type = s.Type();
  int o = UTF8PROC_STABLE;
  if (type == "NFC") o |= UTF8PROC_COMPOSE;
  else if (type == "NFD") o |= UTF8PROC_DECOMPOSE;
  else if (type == "NFKC") o |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  else o |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  const bool compat = type == "NFKC" || type == "NFKD";
  const bool compose = type == "NFC" || type == "NFKC";
  return std::make_unique<UnicodeForm>(static_cast<utf8proc_option_t>(o), compat, compose);
}

}  // namespace tce::tok
