#include <stdexcept>

#include "tokenizer/normalizers/normalizer.h"

namespace tce::tok {

std::unique_ptr<Normalizer> MakeNormalizer(const JsonValue& json) {
  const std::string type = Settings(json, "normalizer").Type();
  const Settings s(json, "normalizer " + type);
  if (type == "BertNormalizer") return MakeBertNormalizerStage(s);
  if (type == "Precompiled") return MakePrecompiled(s);
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") return MakeUnicodeForm(s);
  if (type == "Lowercase") return MakeLowercase(s);
  if (type == "Strip") return MakeStrip(s);
  if (type == "StripAccents") return MakeStripAccents(s);
  if (type == "Replace") return MakeReplace(s);
  if (type == "Prepend") return MakePrepend(s);
  if (type == "Sequence") return MakeNormalizerSequence(s);
  s.Fail("is not supported (supported: BertNormalizer, Precompiled, NFC, NFD, NFKC, NFKD, Lowercase, "
         "Strip, StripAccents, Replace, Prepend, Sequence)");
}

}  // namespace tce::tok
