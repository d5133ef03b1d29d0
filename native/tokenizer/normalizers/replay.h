// Alignment helpers for the normalizers: tokenizers' NormalizedString::transform replayed over
// a normalizer's input, and the identity alignment of text a normalizer keeps as it is.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tokenizer/alignment.h"

namespace tce::tok {

// The byte length of the UTF-8 character that starts with `lead` (input is well-formed).
inline size_t Utf8Length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// Appends, for each byte of in[begin, end) (whole characters), the range of its character.
void AppendOwnRanges(std::string_view in, size_t begin, size_t end, Alignment& align);

// tokenizers builds most normalized texts as a list of (char, change) pairs and aligns them with
// a cursor over the input: change 0 replaces the character at the cursor and takes its range;
// change -n also swallows the n characters after it; change +1 is an insertion and takes the
// range of the character just before the cursor ({0, 0} at the very start). Each pair writes
// its character to `out` and one range per byte to `align`.
class ChangeReplay {
 public:
  // `skip` characters at the start of `in` are removed first (transform's initial_offset).
  ChangeReplay(std::string_view in, size_t skip, std::string& out, Alignment& align);
  void Put(char32_t c, long change);

 private:
  // Moves the cursor over one character of the input, remembering its range.
  void Take();

  std::string_view in_;
  std::string& out_;
  Alignment& align_;
  size_t cursor_ = 0;
  ByteRange before_{};  // the character before the cursor
};

}  // namespace tce::tok
