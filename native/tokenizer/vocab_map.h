// A read-only map from token text to id, built once. Keys are views into one owned arena and
// lookups take a string_view, so the WordPiece loop never allocates. Open addressing with
// linear probing keeps a probe within one or two cache lines.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace tce::tok {

class VocabMap {
 public:
  VocabMap() = default;

  // Builds from (key, id) pairs; a key given twice keeps its last id.
  void Build(const std::vector<std::pair<std::string_view, int32_t>>& entries);

  // The id of `key`, or -1.
  int32_t Find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = Hash(key);
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = static_cast<size_t>(h) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.tag == tag && s.len == key.size() &&
          std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
        return s.id;
      }
    }
  }

  size_t max_key_bytes() const { return max_key_bytes_; }

  static uint64_t Hash(std::string_view key) {
    // Word-at-a-time multiply-xorshift mixing: tokens are short, so a byte-at-a-time hash
    // would dominate the lookup.
    constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
    uint64_t h = 0x243F6A8885A308D3ull ^ (key.size() * kMul);
    const char* p = key.data();
    size_t n = key.size();
    while (n >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      h = (h ^ v) * kMul;
      h ^= h >> 29;
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      uint64_t v = 0;
      std::memcpy(&v, p, n);
      h = (h ^ v) * kMul;
      h ^= h >> 29;
    }
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    return h;
  }

 private:
  struct Slot {
    uint32_t tag = 0;
    uint32_t offset = 0;
    uint32_t len = 0;
    int32_t id = -1;  // -1 marks an empty slot
  };
  std::string arena_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t max_key_bytes_ = 0;
};

}  // namespace tce::tok
