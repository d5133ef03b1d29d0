// Prepend: puts a string before non-empty text. tokenizers rewrites the first character as the
// prefix followed by that character, so every byte of both takes the first character's range
// (with an empty prefix the first character becomes an insertion at the start: {0, 0}).
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/normalizers/replay.h"

namespace tce::tok {

namespace {

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    if (!in.empty()) out.append(prefix_);
    out.append(in);
    if (align == nullptr || in.empty()) return;
    const auto first_len = static_cast<uint32_t>(Utf8Length(static_cast<unsigned char>(in[0])));
    const ByteRange first = prefix_.empty() ? ByteRange{} : ByteRange{0, first_len};
    align->insert(align->end(), prefix_.size() + first_len, first);
    AppendOwnRanges(in, first_len, in.size(), *align);
  }

 private:
  std::string prefix_;
};

}  // namespace

std::unique_ptr<Normalizer> MakePrepend(const Settings& s) {
  return std::make_unique<Prepend>(s.RequiredString("prepend"));
}

}  // namespace tce::tok
