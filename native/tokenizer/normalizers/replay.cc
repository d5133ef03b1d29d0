#include "tokenizer/normalizers/replay.h"

#include "tokenizer/unicode.h"

namespace tce::tok {

void AppendOwnRanges(std::string_view in, size_t begin, size_t end, Alignment& align) {
  while (begin < end) {
    const size_t len = Utf8Length(static_cast<unsigned char>(in[begin]));
    const ByteRange r{static_cast<uint32_t>(begin), static_cast<uint32_t>(begin + len)};
    align.insert(align.end(), len, r);
    begin += len;
  }
}

ChangeReplay::ChangeReplay(std::string_view in, size_t skip, std::string& out, Alignment& align)
    : in_(in), out_(out), align_(align) {
  for (size_t i = 0; i < skip; ++i) Take();
}

void ChangeReplay::Take() {
  if (cursor_ >= in_.size()) return;
  const size_t len = Utf8Length(static_cast<unsigned char>(in_[cursor_]));
  before_ = {static_cast<uint32_t>(cursor_), static_cast<uint32_t>(cursor_ + len)};
  cursor_ += len;
}

void ChangeReplay::Put(char32_t c, long change) {
  ByteRange r = before_;
  if (change <= 0) {
    // A replacement past the input's end cannot come from a well-formed list (tokenizers would
    // panic on it); it keeps the last character's range rather than reading past the input.
    if (cursor_ < in_.size()) {
      Take();
      r = before_;
    }
    for (long i = 0; i < -change; ++i) Take();
  }
  const size_t at = out_.size();
  unicode::AppendUtf8(c, out_);
  align_.insert(align_.end(), out_.size() - at, r);
}

}  // namespace tce::tok
