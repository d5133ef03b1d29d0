// Finds added tokens in text, the way the fast tokenizer's AddedVocabulary does: leftmost-longest
// exact matches scanned left to right (a skipped single_word match is not retried at shorter
// lengths), with lstrip/rstrip absorbing neighbouring whitespace.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tce::tok {

struct Segment {
  size_t begin = 0;
  size_t end = 0;
  int32_t id = -1;  // the added token's id, or -1 for ordinary text between matches
};

struct AddedPattern {
  std::string content;
  int32_t id = -1;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedPattern> patterns);

  bool empty() const { return patterns_.empty(); }

  // Replaces `out` with the segments of `text`: matches and the text between them, in order.
  // Text segments are never empty.
  void Split(std::string_view text, std::vector<Segment>& out) const;

 private:
  // The longest pattern matching at `pos`, or -1.
  int Longest(std::string_view text, size_t pos) const;

  std::vector<AddedPattern> patterns_;
  // Per first byte, the indices of the patterns that start with it, longest first.
  std::array<std::vector<int>, 256> by_first_byte_;
};

}  // namespace tce::tok
