// Sequence: its members one after the other.
#include <vector>

#include "tokenizer/normalizers/normalizer.h"

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
      return;
    }
    std::string current(in), next;
    for (size_t i = 0; i + 1 < members_.size(); ++i) {
      next.clear();
      members_[i]->Normalize(current, next, nullptr);
      current.swap(next);
    }
    members_.back()->Normalize(current, out, nullptr);
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
