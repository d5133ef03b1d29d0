// A byte trie over the vocabulary for Unigram's lattice: all tokens that are prefixes of the
// text at a position, shortest first, one hash probe per byte.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace tce::tok {

class PrefixTrie {
 public:
  // tokens[id]; empty tokens are skipped; for a token given twice the later id wins.
  void Build(const std::vector<std::string>& tokens);

  // Calls f(length_in_bytes, id) for every token that `text` starts with, shortest first.
  template <typename F>
  void ForEachPrefix(std::string_view text, F&& f) const {
    uint32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      node = Child(node, static_cast<unsigned char>(text[i]));
      if (node == kNone) return;
      if (ids_[node] >= 0) f(i + 1, ids_[node]);
    }
  }

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  uint32_t Child(uint32_t node, unsigned char byte) const {
    const uint64_t key = (static_cast<uint64_t>(node) << 8 | byte) + 1;
    for (size_t i = Mix(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return values_[i];
      if (keys_[i] == 0) return kNone;
    }
  }
  static uint64_t Mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return k;
  }
  void Insert(uint64_t key, uint32_t value);

  std::vector<int32_t> ids_;        // per node: the token ending here, or -1
  std::vector<uint64_t> keys_;      // (node << 8 | byte) + 1; 0 marks an empty slot
  std::vector<uint32_t> values_;    // child node
  size_t mask_ = 0;
};

}  // namespace tce::tok
