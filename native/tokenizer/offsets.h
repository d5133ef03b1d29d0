// The offset arithmetic of Tokenizer::Encode with offsets: alignments of untouched text, a model
// token's range within its word taken back to the original text (tokenizers' convert_offsets as
// PreTokenizedString::into_encoding applies it), the trimming of whitespace that RobertaProcessing
// and the ByteLevel post-processor do (trim_offsets), and byte offsets turned into UTF-16 code
// units for JS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/alignment.h"

namespace tce::tok {

// Appends one entry per byte of `text` (valid UTF-8): the byte range of the character that byte
// belongs to, shifted by `base` (what a stage that leaves text alone contributes).
void AppendIdentityAlignment(std::string_view text, uint32_t base, Alignment& align);

// The original range of the bytes [r.begin, r.end) of a word whose bytes align to
// word_align[0..word_len): from the first byte's start to the last byte's end. As tokenizers: an
// empty range is shifted by the word's start, and a range past the word's end (BPE byte fallback
// counting a continuing_subword_prefix's bytes) is kept as it is.
ByteRange WordRangeToOriginal(const ByteRange* word_align, size_t word_len, ByteRange r);

// trim_offsets for one token of text `token` (its vocabulary string): leading and trailing spaces
// (U+0020, its byte-level stand-in U+0120, or White_Space) are taken off its offsets, counting one
// per character as tokenizers does; with add_prefix_space a single leading one is kept on the
// first token of the sequence (index 0, or offsets starting at 0).
void TrimOffsets(std::string_view token, size_t index, bool add_prefix_space, ByteRange& offsets);

// UTF-16 code units before each byte offset of `text` (size + 1 entries), so that a byte offset
// at a character boundary maps to the JS string index. An offset inside a character maps to the
// start of that character.
void Utf16Positions(std::string_view text, std::vector<uint32_t>& units);

}  // namespace tce::tok
