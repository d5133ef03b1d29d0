// Inputs that lib/ has already put in the model's own format: a causal-LM reranker's pairs
// rendered by its chat template (lib/chat/), one text each. They are tokenized as transformers'
// apply_chat_template tokenizes a rendered conversation (no post-processor template, truncated on
// the right to max_length), and sentence-transformers 6.3's restore_suffix is applied: a row cut
// to max_length gets the template's closing tokens written back over its last tokens, so that
// the last position, which the model scores, is the template's, not the middle of a document.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace tce::engine {

inline tok::Encoding EncodeRendered(const tok::Tokenizer& tokenizer, std::string_view text,
                                    size_t max_length, const std::vector<int32_t>& suffix) {
  tok::Encoding encoding = tokenizer.Encode(text, nullptr, max_length, false);
  // Only a row that reached max_length can have lost its tail (as upstream, which checks the
  // real length against max_length, not whether anything was cut).
  if (max_length == 0 || encoding.ids.size() < max_length) return encoding;
  const size_t keep = std::min(suffix.size(), encoding.ids.size());
  std::copy(suffix.end() - static_cast<std::ptrdiff_t>(keep), suffix.end(),
            encoding.ids.end() - static_cast<std::ptrdiff_t>(keep));
  return encoding;
}

}  // namespace tce::engine
