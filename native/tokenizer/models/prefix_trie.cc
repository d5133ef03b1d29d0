#include "tokenizer/models/prefix_trie.h"

#include <string>

namespace tce::tok {

void PrefixTrie::Build(const std::vector<std::string>& tokens) {
  size_t bytes = 0;
  for (const std::string& t : tokens) bytes += t.size();
  size_t capacity = 16;
  while (capacity < 2 * bytes + 16) capacity <<= 1;
  keys_.assign(capacity, 0);
  values_.assign(capacity, 0);
  mask_ = capacity - 1;
  ids_.assign(1, -1);
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string& t = tokens[id];
    if (t.empty()) continue;
    uint32_t node = 0;
    for (char ch : t) {
      const uint32_t child = Child(node, static_cast<unsigned char>(ch));
      if (child != kNone) {
        node = child;
        continue;
      }
      const uint32_t created = static_cast<uint32_t>(ids_.size());
      ids_.push_back(-1);
      Insert((static_cast<uint64_t>(node) << 8 | static_cast<unsigned char>(ch)) + 1, created);
      node = created;
    }
    ids_[node] = static_cast<int32_t>(id);
  }
}

void PrefixTrie::Insert(uint64_t key, uint32_t value) {
  for (size_t i = Mix(key) & mask_;; i = (i + 1) & mask_) {
    if (keys_[i] == 0) {
      keys_[i] = key;
      values_[i] = value;
      return;
    }
  }
}

}  // namespace tce::tok
