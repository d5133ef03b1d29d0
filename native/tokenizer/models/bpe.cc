// BPE: a word starts as its characters (continuing_subword_prefix on all but the first,
// end_of_word_suffix on the last; unknown ones as <0xXX> bytes with byte_fallback, else unk,
// consecutive unks fused with fuse_unk); then the pair with the lowest merge rank is merged,
// leftmost first on a tie, until no pair has a merge. With ignore_merges a word that is itself
// in the vocabulary is that token. Dropout is refused (it is random by design).
#include <cmath>
#include <queue>
#include <string>

#include "tokenizer/models/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_map.h"

namespace tce::tok {

namespace {

// (left id, right id) -> (rank, merged id), open addressing.
class MergeMap {
 public:
  void Reserve(size_t n) {
    size_t capacity = 16;
    while (capacity < 2 * n + 16) capacity <<= 1;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
  }
  // A pair given twice keeps its last rank, as tokenizers' map does.
  void Put(int32_t a, int32_t b, uint32_t rank, int32_t merged) {
    const uint64_t key = Key(a, b);
    for (size_t i = Mix(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == 0 || slots_[i].key == key) {
        slots_[i] = Slot{key, rank, merged};
        return;
      }
    }
  }
  bool Get(int32_t a, int32_t b, uint32_t* rank, int32_t* merged) const {
    const uint64_t key = Key(a, b);
    for (size_t i = Mix(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) {
        *rank = slots_[i].rank;
        *merged = slots_[i].merged;
        return true;
      }
      if (slots_[i].key == 0) return false;
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;  // 0: empty (ids are offset by one in the key)
    uint32_t rank = 0;
    int32_t merged = -1;
  };
  static uint64_t Key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a) + 1) << 32) | (static_cast<uint32_t>(b) + 1);
  }
  static uint64_t Mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return k;
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

struct BpeOptions {
  std::string unk_token;
  bool has_unk = false;
  std::string prefix;  // continuing_subword_prefix
  std::string suffix;  // end_of_word_suffix
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class Bpe final : public Model {
 public:
  Bpe(const std::vector<std::string>& vocab, const std::vector<std::string>& merges, BpeOptions o,
      const Settings& s)
      : o_(std::move(o)) {
    std::vector<std::pair<std::string_view, int32_t>> entries;
    entries.reserve(vocab.size());
    for (size_t id = 0; id < vocab.size(); ++id) {
      if (!vocab[id].empty()) entries.emplace_back(vocab[id], static_cast<int32_t>(id));
    }
    map_.Build(entries);
    merges_.Reserve(merges.size() / 2);
    for (size_t i = 0; i + 1 < merges.size(); i += 2) {
      const std::string& a = merges[i];
      const std::string& b = merges[i + 1];
      const int32_t ia = map_.Find(a), ib = map_.Find(b);
      if (ia < 0 || ib < 0) s.Fail("merge \"" + a + " " + b + "\" uses a token that is not in the vocabulary");
      if (b.size() < o_.prefix.size()) s.Fail("merge \"" + a + " " + b + "\": its right side is shorter than continuing_subword_prefix");
      const std::string joined = a + b.substr(o_.prefix.size());
      const int32_t merged = map_.Find(joined);
      if (merged < 0) s.Fail("merge \"" + a + " " + b + "\" makes \"" + joined + "\", which is not in the vocabulary");
      merges_.Put(ia, ib, static_cast<uint32_t>(i / 2), merged);
    }
    // An unk_token missing from the vocabulary loads, as in tokenizers: only a text with an
    // unknown character fails, when it needs the token (Initial).
    if (o_.has_unk) unk_id_ = map_.Find(o_.unk_token);
    if (o_.byte_fallback) {
      static const char* kHex = "0123456789ABCDEF";
      for (int b = 0; b < 256; ++b) byte_ids_[b] = map_.Find(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    }
  }

  int32_t Find(std::string_view token) const override { return map_.Find(token); }

  void Tokenize(std::string_view word, std::vector<int32_t>& out, std::vector<ByteRange>* ranges) const override {
    if (o_.ignore_merges) {
      const int32_t id = map_.Find(word);
      if (id >= 0) {
        out.push_back(id);
        if (ranges != nullptr) ranges->push_back(ByteRange{0, static_cast<uint32_t>(word.size())});
        return;
      }
    }
    std::vector<int32_t> symbols;
    std::vector<uint32_t> lengths;
    std::vector<uint32_t>* lens = ranges != nullptr ? &lengths : nullptr;
    Initial(word, symbols, lens);
    Merge(symbols, lens);
    out.insert(out.end(), symbols.begin(), symbols.end());
    if (ranges != nullptr) {
      // Symbols lie back to back: tokenizers' Word::get_offsets_iter.
      uint32_t at = 0;
      for (uint32_t len : lengths) {
        ranges->push_back(ByteRange{at, at + len});
        at += len;
      }
    }
  }

 private:
  // The word's first symbols; with `lens`, each one's byte length in the word (a byte-fallback
  // byte counts 1, a fused unk the characters it covers).
  void Initial(std::string_view w, std::vector<int32_t>& symbols, std::vector<uint32_t>* lens) const {
    auto add = [&](int32_t id, size_t len) {
      symbols.push_back(id);
      if (lens != nullptr) lens->push_back(static_cast<uint32_t>(len));
    };
    size_t unk_len = 0;
    std::string piece;
    bool pending_unk = false;
    for (size_t at = 0; at < w.size();) {
      size_t len = 1;
      const auto b = static_cast<unsigned char>(w[at]);
      if (b >= 0xF0) len = 4;
      else if (b >= 0xE0) len = 3;
      else if (b >= 0xC0) len = 2;
      len = std::min(len, w.size() - at);
      const bool first = at == 0, last = at + len == w.size();
      piece.assign(first ? "" : o_.prefix);
      piece.append(w.substr(at, len));
      if (last) piece.append(o_.suffix);
      at += len;
      const int32_t id = map_.Find(piece);
      if (id >= 0) {
        if (pending_unk) add(unk_id_, unk_len);
        pending_unk = false;
        add(id, len);
        continue;
      }
      if (o_.byte_fallback) {
        bool all = true;
        for (char c : piece) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
        if (all) {
          // As tokenizers: a pending unk is not flushed before the bytes.
          for (char c : piece) add(byte_ids_[static_cast<unsigned char>(c)], 1);
          continue;
        }
      }
      if (!o_.has_unk) continue;  // no unk token: the character is dropped
      if (unk_id_ < 0) {
        throw TokenizerFileError("tokenizer.json: the BPE model's unk_token \"" + o_.unk_token +
                                 "\" is not in its vocabulary, and the text has a character the "
                                 "vocabulary lacks (" + std::string(w.substr(at - len, len)) + ")");
      }
      if (pending_unk && o_.fuse_unk) {
        unk_len += len;
      } else {
        if (pending_unk) add(unk_id_, unk_len);
        unk_len = len;
      }
      pending_unk = true;
    }
    if (pending_unk) add(unk_id_, unk_len);
  }

  // tokenizers' Word::merge_all without dropout: a queue of candidate merges ordered by rank,
  // then position; entries made stale by an earlier merge are skipped.
  // With `lens` (the symbols' byte lengths), a merged symbol's length is the sum of its parts'.
  void Merge(std::vector<int32_t>& ids, std::vector<uint32_t>* lens) const {
    const size_t n = ids.size();
    if (n < 2) return;
    struct Symbol {
      int32_t id;
      int64_t prev, next;
      bool alive;
      uint32_t len;
    };
    std::vector<Symbol> sym(n);
    for (size_t i = 0; i < n; ++i) {
      sym[i] = Symbol{ids[i], static_cast<int64_t>(i) - 1, i + 1 < n ? static_cast<int64_t>(i + 1) : -1, true,
                      lens != nullptr ? (*lens)[i] : 0};
    }
    struct Candidate {
      uint32_t rank;
      size_t pos;
      int32_t merged;
      bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    uint32_t rank;
    int32_t merged;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (merges_.Get(ids[i], ids[i + 1], &rank, &merged)) queue.push({rank, i, merged});
    }
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      Symbol& left = sym[top.pos];
      if (!left.alive || left.next < 0) continue;
      Symbol& right = sym[static_cast<size_t>(left.next)];
      if (!merges_.Get(left.id, right.id, &rank, &merged) || merged != top.merged) continue;
      left.id = top.merged;
      left.len += right.len;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) sym[static_cast<size_t>(right.next)].prev = static_cast<int64_t>(top.pos);
      if (left.prev >= 0 && merges_.Get(sym[static_cast<size_t>(left.prev)].id, left.id, &rank, &merged)) {
        queue.push({rank, static_cast<size_t>(left.prev), merged});
      }
      if (left.next >= 0 && merges_.Get(left.id, sym[static_cast<size_t>(left.next)].id, &rank, &merged)) {
        queue.push({rank, top.pos, merged});
      }
    }
    ids.clear();
    if (lens != nullptr) lens->clear();
    for (const Symbol& s : sym) {
      if (!s.alive) continue;
      ids.push_back(s.id);
      if (lens != nullptr) lens->push_back(s.len);
    }
  }

  BpeOptions o_;
  VocabMap map_;
  MergeMap merges_;
  int32_t unk_id_ = -1;
  int32_t byte_ids_[256] = {};
};

}  // namespace

std::unique_ptr<Model> MakeBpe(const Settings& s, const ModelTables& tables) {
  const double dropout = s.Number("dropout", 0);
  if (dropout != 0 && !std::isnan(dropout)) s.Fail("dropout is not supported (it makes tokenization random)");
  if (tables.merges == nullptr || tables.merges->size() % 2 != 0) s.Fail("\"merges\" must be pairs of tokens");
  BpeOptions o;
  o.has_unk = s.Has("unk_token");
  o.unk_token = s.String("unk_token", "");
  o.prefix = s.String("continuing_subword_prefix", "");
  o.suffix = s.String("end_of_word_suffix", "");
  o.fuse_unk = s.Bool("fuse_unk", false);
  o.byte_fallback = s.Bool("byte_fallback", false);
  o.ignore_merges = s.Bool("ignore_merges", false);
  if (tables.vocab->empty()) s.Fail("the vocabulary is empty");
  return std::make_unique<Bpe>(*tables.vocab, *tables.merges, std::move(o), s);
}

}  // namespace tce::tok
