#include "tokenizer/models/wordpiece.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace tce::tok {

WordPiece::WordPiece(const std::vector<std::string>& vocab, const std::string& unk_token,
                     const std::string& continuing_subword_prefix, size_t max_input_chars_per_word)
    // Past INT32_MAX code points no word exists (a JS string holds fewer), so a larger setting,
    // tokenizers' usize up to 2^64 - 1 included, means the same as INT32_MAX: no limit.
    : max_input_chars_per_word_(std::min<size_t>(max_input_chars_per_word, std::numeric_limits<int32_t>::max())) {
  std::vector<std::pair<std::string_view, int32_t>> all, cont;
  all.reserve(vocab.size());
  for (size_t id = 0; id < vocab.size(); ++id) {
    const std::string& token = vocab[id];
    all.emplace_back(token, static_cast<int32_t>(id));
    if (token.size() > continuing_subword_prefix.size() &&
        token.compare(0, continuing_subword_prefix.size(), continuing_subword_prefix) == 0) {
      cont.emplace_back(std::string_view(token).substr(continuing_subword_prefix.size()),
                        static_cast<int32_t>(id));
    }
  }
  all_.Build(all);
  continuation_.Build(cont);
  unk_id_ = all_.Find(unk_token);
  if (unk_id_ < 0) {
    throw std::invalid_argument("the unknown token \"" + unk_token +
                                "\" is not in the vocabulary");
  }
}

namespace {

inline bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

template <bool kRanges>
void WordPiece::Run(std::string_view word, size_t chars, std::vector<int32_t>& out, std::vector<ByteRange>* ranges) const {
  const auto whole = ByteRange{0, static_cast<uint32_t>(word.size())};
  if (chars > max_input_chars_per_word_) {
    out.push_back(unk_id_);
    if constexpr (kRanges) ranges->push_back(whole);
    return;
  }
  const size_t mark = out.size();
  [[maybe_unused]] const size_t range_mark = kRanges ? ranges->size() : 0;
  size_t start = 0;
  while (start < word.size()) {
    const VocabMap& map = start == 0 ? all_ : continuation_;
    // No key is longer than max_key_bytes, so candidates longer than that are skipped without
    // changing the outcome of the longest-first search.
    size_t end = std::min(word.size(), start + map.max_key_bytes());
    while (end < word.size() && IsContinuationByte(word[end])) --end;
    int32_t id = -1;
    while (end > start) {
      id = map.Find(word.substr(start, end - start));
      if (id >= 0) break;
      do {
        --end;
      } while (end > start && IsContinuationByte(word[end]));
    }
    if (id < 0) {
      out.resize(mark);
      out.push_back(unk_id_);
      if constexpr (kRanges) {
        ranges->resize(range_mark);
        ranges->push_back(whole);
      }
      return;
    }
    out.push_back(id);
    if constexpr (kRanges) ranges->push_back(ByteRange{static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
    start = end;
  }
}

template void WordPiece::Run<false>(std::string_view, size_t, std::vector<int32_t>&, std::vector<ByteRange>*) const;
template void WordPiece::Run<true>(std::string_view, size_t, std::vector<int32_t>&, std::vector<ByteRange>*) const;

}  // namespace tce::tok
