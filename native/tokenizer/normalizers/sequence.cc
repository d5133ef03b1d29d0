// Sequence: its members one after the other.
#include <vector>

#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/normalizers/replay.h"

namespace tce::tok {

namespace {

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> members)
      : members_(std::move(members)) {}

  // Follows the first character through the members: dropped by a strip/filter member, or first
  // replaced by nothing (then the next character's fate is unknown here; tokenizers keeps 0).
  bool DropsStart(std::string_view text) const override {
    std::string current(text), next;
    for (const auto& m : members_) {
      if (current.empty()) return false;
      if (m->DropsStart(current)) return true;
      next.clear();
      m->Normalize(current, next, nullptr);
      current.swap(next);
    }
    return false;
  }

  void Normalize(std::string_view in, std::string& out, Alignment* align) const override {
    if (members_.empty()) {
      out.append(in);
      if (align != nullptr) AppendOwnRanges(in, 0, in.size(), *align);
      return;
    }
    std::string current(in), next;
    if (align == nullptr) {
      for (size_t i = 0; i + 1 < members_.size(); ++i) {
        next.clear();
        members_[i]->Normalize(current, next, nullptr);
        current.swap(next);
      }
      members_.back()->Normalize(current, out, nullptr);
      return;
    }
    // Each member aligns its output with its own input; composing the two gives ranges of `in`.
    // A member's range is a whole character of its input, whose bytes share one range of `in`,
    // so its first byte's range is the character's. {0, 0} (an insertion at the start) stays
    // {0, 0}, as tokenizers' insertions at the start are (0, 0) whatever came before.
    Alignment current_align, stage, composed;
    AppendOwnRanges(in, 0, in.size(), current_align);
    for (size_t i = 0; i < members_.size(); ++i) {
      const bool last = i + 1 == members_.size();
      std::string& target = last ? out : next;
      if (!last) next.clear();
      stage.clear();
      members_[i]->Normalize(current, target, &stage);
      composed.clear();
      composed.reserve(stage.size());
      for (const ByteRange& r : stage) {
        composed.push_back(r.begin == r.end ? ByteRange{} : current_align[r.begin]);
      }
      if (last) {
        align->insert(align->end(), composed.begin(), composed.end());
      } else {
        current.swap(next);
        current_align.swap(composed);
      }
    }
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> members_;
};

}  // namespace

std::unique_ptr<Normalizer> MakeNormalizerSequence(const Settings& s) {
  std::vector<std::unique_ptr<Normalizer>> members;
  for (const JsonValue& m : s.Array("normalizers")) members.push_back(MakeNormalizer(m));
  return std::make_unique<SequenceNormalizer>(std::move(members));
}

}  // namespace tce::tok
