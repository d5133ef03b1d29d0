// BERT's normalizer, in the fast tokenizer's order: clean text -> CJK spacing -> strip accents
// (NFD, then drop Mn) -> lowercase. It maps UTF-8 to UTF-8; offsets are not tracked because
// nothing downstream needs them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
  // caller so that steady-state encoding does not allocate).
  void Normalize(std::string_view in, std::string& out, std::vector<char32_t>& pending) const;

  const BertNormalizerOptions& options() const { return options_; }

 private:
  void EmitNonAscii(char32_t c, std::string& out, std::vector<char32_t>& pending) const;
  void EmitStripped(char32_t c, std::string& out, std::vector<char32_t>& pending) const;
  void EmitFinal(char32_t c, std::string& out) const;
  void Flush(std::string& out, std::vector<char32_t>& pending) const;

  BertNormalizerOptions options_;
  // What every ASCII byte turns into; kDrop for bytes clean_text removes. Every step of the
  // pipeline maps ASCII to ASCII one-to-one, which is what makes this table exact.
  static constexpr int16_t kDrop = -1;
  std::array<int16_t, 128> ascii_{};
};

}  // namespace tce::tok
