#include "tokenizer/vocab_map.h"

#include <stdexcept>

namespace tce::tok {

void VocabMap::Build(const std::vector<std::pair<std::string_view, int32_t>>& entries) {
  size_t bytes = 0;
  for (const auto& e : entries) bytes += e.first.size();
  if (bytes > UINT32_MAX) throw std::invalid_argument("vocabulary too large");
  arena_.clear();
  arena_.reserve(bytes);
  size_t capacity = 16;
  while (capacity < entries.size() * 2) capacity *= 2;
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  max_key_bytes_ = 0;
  for (const auto& [key, id] : entries) {
    const uint64_t h = Hash(key);
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    size_t i = static_cast<size_t>(h) & mask_;
    for (;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s.tag = tag;
        s.offset = static_cast<uint32_t>(arena_.size());
        s.len = static_cast<uint32_t>(key.size());
        s.id = id;
        arena_.append(key);
        break;
      }
      if (s.tag == tag && s.len == key.size() &&
          arena_.compare(s.offset, s.len, key) == 0) {
        s.id = id;
        break;
      }
    }
    if (key.size() > max_key_bytes_) max_key_bytes_ = key.size();
  }
}

}  // namespace tce::tok
