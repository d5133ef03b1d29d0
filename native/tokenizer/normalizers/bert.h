// BERT's normalizer, in the fast tokenizer's order: clean text -> CJK spacing -> strip accents
// (NFD, then drop Mn) -> lowercase, fused into one pass over UTF-8. It can also report, per
// output byte, the range of the input character it came from (tokenizers' alignments).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/alignment.h"

namespace tce::tok {

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

class BertNormalizer {
 public:
  explicit BertNormalizer(BertNormalizerOptions options);

  // Appends the normalized form of `in` to `out`. `pending` is caller-owned scratch (kept by the
  // caller so that steady-state encoding does not allocate). When `align` is not null, also
  // appends one ByteRange per byte appended to `out` (see Normalizer::Normalize); that path
  // keeps its own scratch, so the plain path pays nothing for it.
  void Normalize(std::string_view in, std::string& out, std::vector<char32_t>& pending,
                 Alignment* align = nullptr) const;

  const BertNormalizerOptions& options() const { return options_; }

 private:
  // A combining mark held back for canonical ordering. `first` says whether it opens its source
  // character's decomposition (tokenizers' change 0) or follows it (change +1); `source` is that
  // character's byte range in the input.
  struct Mark {
    char32_t c;
    bool first;
    ByteRange source;
  };
  // The pass, instantiated without (Plain) and with (Aligned) alignment tracking.
  struct Plain;
  struct Aligned;
  template <class Track>
  void Run(std::string_view in, std::string& out, Track& track) const;
  template <class Track>
  void EmitNonAscii(char32_t c, ByteRange source, std::string& out, Track& track) const;
  template <class Track>
  void EmitStripped(char32_t c, ByteRange source, std::string& out, Track& track) const;
  template <class Track>
  void EmitFinal(char32_t c, ByteRange source, std::string& out, Track& track) const;
  template <class Track>
  void Flush(std::string& out, Track& track) const;

  BertNormalizerOptions options_;
  // What every ASCII byte turns into; kDrop for bytes clean_text removes. Every step of the
  // pipeline maps ASCII to ASCII one-to-one, which is what makes this table exact.
  static constexpr int16_t kDrop = -1;
  std::array<int16_t, 128> ascii_{};
};

}  // namespace tce::tok
