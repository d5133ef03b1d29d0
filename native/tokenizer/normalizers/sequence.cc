// Sequence: its members one after the other.
#include <vector>

#include "tokenizer/normalizers/normalizer.h"

namespace tce::tok {

namespace {

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> members)
      : members_(std::move(members)) {}

  void Normalize(std::string_view in, std::string& out) const override {
    if (members_.empty()) {
      out.append(in);
      return;
    }
    std::string current(in), next;
    for (size_t i = 0; i + 1 < members_.size(); ++i) {
      next.clear();
      members_[i]->Normalize(current, next);
      current.swap(next);
    }
    members_.back()->Normalize(current, out);
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
