// A normalizer of tokenizer.json's pipeline (tokenizers' normalizers/): maps the text between
// added tokens to its normalized form. Input is valid UTF-8 (the tokenizer replaces ill-formed
// sequences first).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/alignment.h"
#include "tokenizer/json_value.h"

namespace tce::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Appends the normalized form of `in` to `out` (`in` never aliases `out`). When `align` is not
  // null, also appends one ByteRange per byte appended to `out`: the bytes of `in` (relative to
  // in.data()) of the character that byte came from, as tokenizers' NormalizedString aligns them
  // (an inserted character takes the alignment of the one before it, or {0, 0} at the start).
  virtual void Normalize(std::string_view in, std::string& out, Alignment* align) const = 0;
  // Whether the normalized `text` no longer starts at the original's offset 0: tokenizers'
  // offsets_original().0 != 0 for the normalized sequence, which Metaspace's prepend_scheme
  // "first" asks about. That is the first normalized byte's alignment not starting at 0: a
  // character removed at the start by strip or a filter (the next keeps its own range), or
  // replaced by Replace (its content takes the range of the match's last character), but not by
  // Precompiled (which aligns by position, so the next character takes the removed one's range).
  // Exact when `text` is the whole sequence; given a prefix (the first character alone), the
  // answer for that prefix, true when nothing of it is left.
  virtual bool DropsStart(std::string_view text) const { return false; }
};

// Builds the normalizer tokenizer.json describes (a "type" and its settings). Throws
// std::invalid_argument naming an unsupported type or a malformed setting.
std::unique_ptr<Normalizer> MakeNormalizer(const JsonValue& json);

// One factory per kind (normalizers/<kind>.cc).
std::unique_ptr<Normalizer> MakeBertNormalizerStage(const Settings& s);
std::unique_ptr<Normalizer> MakePrecompiled(const Settings& s);
std::unique_ptr<Normalizer> MakeUnicodeForm(const Settings& s);  // NFC, NFD, NFKC, NFKD
std::unique_ptr<Normalizer> MakeLowercase(const Settings& s);
std::unique_ptr<Normalizer> MakeStrip(const Settings& s);
std::unique_ptr<Normalizer> MakeStripAccents(const Settings& s);
std::unique_ptr<Normalizer> MakeReplace(const Settings& s);
std::unique_ptr<Normalizer> MakePrepend(const Settings& s);
std::unique_ptr<Normalizer> MakeNormalizerSequence(const Settings& s);

}  // namespace tce::tok
