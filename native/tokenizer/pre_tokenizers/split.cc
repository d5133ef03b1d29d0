// Split: cut each word at the matches of a pattern, keeping the pieces as `behavior` says, exactly
// as tokenizers' NormalizedString::split does: the word becomes the list of its matches and of the
// text between them, each flagged (flags swapped when inverted), and the behavior folds that list.
// Adjacent matches stay separate entries, so an inverted Isolated split still cuts between them.
#include "tokenizer/pattern.h"
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"

#include <algorithm>

namespace tce::tok {

namespace {

struct Piece {
  size_t begin, end;
  bool flag;  // in the entry list: is a match (after inversion); in the pieces: is removed
};

class SplitPre final : public PreTokenizer {
 public:
  SplitPre(Pattern pattern, Delimiter behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void Split(const Words& in, Words& out) const override {
    out.Clear();
    std::vector<std::pair<size_t, size_t>> matches;
    std::vector<Piece> entries, pieces;
    for (const Word& w : in.list) {
      const std::string_view text = in.View(w);
      pattern_.FindAll(text, matches);
      // tokenizers' find_matches (then Invert's).
      entries.clear();
      size_t prev = 0;
      for (const auto& [b, e] : matches) {
        if (b != prev) entries.push_back({prev, b, invert_});
        entries.push_back({b, e, !invert_});
        prev = e;
      }
      if (prev != text.size()) entries.push_back({prev, text.size(), invert_});
      Fold(entries, pieces);
      for (const Piece& p : pieces) {
        if (p.flag) continue;
        const std::string_view piece = text.substr(p.begin, p.end - p.begin);
        out.Add(piece, w.at_start && p.begin == 0, in.AlignOf(piece));
      }
    }
  }

 private:
  // The behavior's fold over (range, is_match) entries into (range, removed) pieces.
  void Fold(const std::vector<Piece>& entries, std::vector<Piece>& pieces) const {
    pieces.clear();
    bool previous_match = false;
    switch (behavior_) {
      case Delimiter::kIsolated:
        for (const Piece& e : entries) pieces.push_back({e.begin, e.end, false});
        return;
      case Delimiter::kRemoved:
        pieces = entries;
        return;
      case Delimiter::kContiguous:
        for (const Piece& e : entries) {
          if (e.flag == previous_match && !pieces.empty()) pieces.back().end = e.end;
          else pieces.push_back({e.begin, e.end, false});
          previous_match = e.flag;
        }
        return;
      case Delimiter::kMergedWithPrevious:
        for (const Piece& e : entries) {
          if (e.flag && !previous_match && !pieces.empty()) pieces.back().end = e.end;
          else pieces.push_back({e.begin, e.end, false});
          previous_match = e.flag;
        }
        return;
      case Delimiter::kMergedWithNext:
        for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
          if (it->flag && !previous_match && !pieces.empty()) pieces.back().begin = it->begin;
          else pieces.push_back({it->begin, it->end, false});
          previous_match = it->flag;
        }
        std::reverse(pieces.begin(), pieces.end());
        return;
    }
  }

  Pattern pattern_;
  Delimiter behavior_;
  bool invert_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeSplit(const Settings& s) {
  return std::make_unique<SplitPre>(Pattern::FromJson(s.Object("pattern"), s), ReadDelimiter(s), s.Bool("invert", false));
}

}  // namespace tce::tok
