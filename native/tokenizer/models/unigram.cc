// Unigram (sentencepiece): the segmentation of a word with the highest total piece score
// (Viterbi over all vocabulary pieces that match at each position). A character no piece
// covers becomes unk with the score min_score - 10; neighbouring unks fuse into one, which with
// byte_fallback becomes <0xXX> byte pieces when all of them exist. Ties keep the first
// candidate found (shorter pieces are found first), as tokenizers' optimized encoder does.
#include <limits>
#include <stdexcept>

#include "tokenizer/models/model.h"
#include "tokenizer/models/prefix_trie.h"
#include "tokenizer/vocab_map.h"

namespace tce::tok {

namespace {

constexpr double kUnkPenalty = 10.0;

size_t Utf8Length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xF0) return 4;
  if (b >= 0xE0) return 3;
  return 2;
}

class Unigram final : public Model {
 public:
  Unigram(const std::vector<std::string>& vocab, const std::vector<double>& scores, int32_t unk_id,
          bool byte_fallback)
      : scores_(scores), unk_id_(unk_id), byte_fallback_(byte_fallback) {
    std::vector<std::pair<std::string_view, int32_t>> entries;
    entries.reserve(vocab.size());
    double min_score = std::numeric_limits<double>::infinity();
    for (size_t id = 0; id < vocab.size(); ++id) {
      entries.emplace_back(vocab[id], static_cast<int32_t>(id));
      if (scores[id] < min_score) min_score = scores[id];
    }
    map_.Build(entries);
    trie_.Build(vocab);
    unk_score_ = min_score - kUnkPenalty;
    if (byte_fallback_) {
      for (int b = 0; b < 256; ++b) {
        static const char* kHex = "0123456789ABCDEF";
        const std::string piece = std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
        byte_ids_[b] = map_.Find(piece);
      }
    }
  }

  int32_t Find(std::string_view token) const override { return map_.Find(token); }

  void Tokenize(std::string_view word, std::vector<int32_t>& out, std::vector<ByteRange>* ranges) const override {
    const size_t n = word.size();
    struct Node {
      double score = 0;
      int64_t start = -1;  // where the best piece ending here starts; -1: not reached yet
      int32_t id = -1;
    };
    std::vector<Node> best(n + 1);
    for (size_t at = 0; at < n;) {
      const double base = best[at].score;
      const size_t char_len = std::min(Utf8Length(static_cast<unsigned char>(word[at])), n - at);
      bool single_char_piece = false;
      trie_.ForEachPrefix(word.substr(at), [&](size_t len, int32_t id) {
        Node& target = best[at + len];
        const double candidate = scores_[static_cast<size_t>(id)] + base;
        if (target.start < 0 || candidate > target.score) {
          target.score = candidate;
          target.start = static_cast<int64_t>(at);
          target.id = id;
        }
        if (len == char_len) single_char_piece = true;
      });
      if (!single_char_piece) {
        Node& target = best[at + char_len];
        const double candidate = unk_score_ + base;
        if (target.start < 0 || candidate > target.score) {
          target.score = candidate;
          target.start = static_cast<int64_t>(at);
          target.id = unk_id_;
        }
      }
      at += char_len;
    }
    // Back from the end: pieces in reverse, consecutive unks fused into one range.
    std::vector<std::pair<size_t, size_t>> pieces;  // [begin, end) byte ranges, reversed
    size_t end = n;
    size_t unk_begin = 0, unk_end = 0;
    bool in_unk = false;
    while (end > 0) {
      const Node& node = best[end];
      const size_t start = static_cast<size_t>(node.start);
      if (node.id == unk_id_) {
        if (!in_unk) unk_end = end;
        in_unk = true;
        unk_begin = start;
      } else {
        if (in_unk) pieces.emplace_back(unk_begin, unk_end);
        in_unk = false;
        pieces.emplace_back(start, end);
      }
      end = start;
    }
    if (in_unk) pieces.emplace_back(unk_begin, unk_end);
    for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
      const std::string_view piece = word.substr(it->first, it->second - it->first);
      // Every token made from the piece, byte-fallback bytes included, covers the whole piece.
      const size_t before = out.size();
      const int32_t id = map_.Find(piece);
      if (id >= 0) {
        out.push_back(id);
      } else if (byte_fallback_ && AllBytesKnown(piece)) {
        for (char c : piece) out.push_back(byte_ids_[static_cast<unsigned char>(c)]);
      } else {
        out.push_back(unk_id_);
      }
      if (ranges != nullptr) {
        ranges->insert(ranges->end(), out.size() - before,
                       ByteRange{static_cast<uint32_t>(it->first), static_cast<uint32_t>(it->second)});
      }
    }
  }

 private:
  bool AllBytesKnown(std::string_view piece) const {
    for (char c : piece) {
      if (byte_ids_[static_cast<unsigned char>(c)] < 0) return false;
    }
    return true;
  }

  VocabMap map_;
  PrefixTrie trie_;
  const std::vector<double> scores_;
  int32_t unk_id_;
  bool byte_fallback_;
  double unk_score_ = 0;
  int32_t byte_ids_[256] = {};
};

}  // namespace

std::unique_ptr<Model> MakeUnigram(const Settings& s, const ModelTables& tables) {
  const std::vector<std::string>& vocab = *tables.vocab;
  if (tables.scores == nullptr || tables.scores->size() != vocab.size()) {
    s.Fail("every vocabulary piece needs a score");
  }
  if (vocab.empty()) s.Fail("the vocabulary is empty");
  // tokenizers fails at encode time when a character has no piece and there is no unk_id;
  // such a file is refused here instead.
  if (!s.Has("unk_id")) s.Fail("a Unigram model without \"unk_id\" is not supported");
  const int64_t unk = s.Integer("unk_id", 0, 0, static_cast<int64_t>(vocab.size()) - 1);
  return std::make_unique<Unigram>(vocab, *tables.scores, static_cast<int32_t>(unk), s.Bool("byte_fallback", false));
}

}  // namespace tce::tok
