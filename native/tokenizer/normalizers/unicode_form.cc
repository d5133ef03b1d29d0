// NFC, NFD, NFKC, NFKD with utf8proc.
#include <utf8proc.h>

#include <cstdlib>
#include <stdexcept>

#include "tokenizer/normalizers/normalizer.h"

namespace tce::tok {

namespace {

class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(utf8proc_option_t options) : options_(options) {}
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
  utf8proc_option_t options_;
};

}  // namespace

std::unique_ptr<Normalizer> MakeUnicodeForm(const Settings& s) {
  const std::string type = s.Type();
  int o = UTF8PROC_STABLE;
  if (type == "NFC") o |= UTF8PROC_COMPOSE;
  else if (type == "NFD") o |= UTF8PROC_DECOMPOSE;
  else if (type == "NFKC") o |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  else o |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  return std::make_unique<UnicodeForm>(static_cast<utf8proc_option_t>(o));
}

}  // namespace tce::tok
