#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "tokenizer/added_tokens.h"
#include "tokenizer/models/model.h"
#include "tokenizer/models/wordpiece.h"
#include "tokenizer/normalizers/bert.h"
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/offsets.h"
#include "tokenizer/pre_tokenizers/bert.h"
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"
#include "tokenizer/processors/template.h"
#include "tokenizer/processors/truncation.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();
// Offsets are 32-bit byte positions.
constexpr size_t kMaxOffsetText = std::numeric_limits<uint32_t>::max();

// Per-call working memory. Kept out of thread_local storage on purpose: the addon's threads
// (libuv's, the pool's) can outlive nothing here, and a few allocations per sequence are noise
// next to tokenizing it.
struct Scratch {
  std::string normalized;
  std::string valid;  // the input with ill-formed UTF-8 replaced (pipeline path only)
  std::vector<char32_t> pending;
  std::vector<Segment> raw_segments;
  std::vector<Segment> normalized_segments;
  Words words_in, words_out;
  // With offsets only: the normalized text's alignment (original bytes of the sequence), one
  // word's token ranges, and the index of the next pre-tokenized word of the sequence.
  Alignment align;
  std::vector<ByteRange> ranges;
  int32_t word = 0;
};

// One sequence's tokens before post-processing; offsets and word ids only when tracked.
struct SeqTokens {
  std::vector<int32_t> ids;
  std::vector<ByteRange> offsets;
  std::vector<int32_t> word_ids;

  void Clear() {
    ids.clear();
    offsets.clear();
    word_ids.clear();
  }
  void Cut(size_t n) {
    if (ids.size() > n) ids.resize(n);
    if (offsets.size() > n) offsets.resize(n);
    if (word_ids.size() > n) word_ids.resize(n);
  }
};

}  // namespace

struct Tokenizer::Impl {
  explicit Impl(TokenizerSpec& spec) {
    if (spec.vocab.empty()) throw std::invalid_argument("the vocabulary is empty");
    if (spec.vocab.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      throw std::invalid_argument("the vocabulary is too large");
    }
    if (spec.pipeline) {
      if (!spec.normalizer.is_null()) normalizer = MakeNormalizer(spec.normalizer);
      if (!spec.pre_tokenizer.is_null()) pre_tokenizer = MakePreTokenizer(spec.pre_tokenizer);
      ModelTables tables;
      tables.vocab = &spec.vocab;
      tables.scores = &spec.scores;
      tables.merges = &spec.merges;
      model = MakeModel(spec.model, tables);
      post = PostTemplate::FromJson(spec.post_processor);
    } else {
      bert_normalizer = std::make_unique<BertNormalizer>(BertNormalizerOptions{
          spec.clean_text, spec.handle_chinese_chars, spec.strip_accents, spec.lowercase});
      wordpiece = std::make_unique<WordPiece>(spec.vocab, spec.unk_token, spec.continuing_subword_prefix,
                                              spec.max_input_chars_per_word);
    }
    id_to_token = std::move(spec.vocab);
    const size_t id_limit = id_to_token.size() + spec.added_tokens.size() + (size_t{1} << 20);
    std::vector<AddedPattern> raw, normalized;
    for (const AddedToken& t : spec.added_tokens) {
      if (t.id < 0) {
        throw std::invalid_argument("added token \"" + t.content + "\" has a negative id");
      }
      // Added tokens sit in or just after the vocabulary; a wild id would only allocate.
      if (static_cast<size_t>(t.id) >= id_limit) {
        throw std::invalid_argument("added token \"" + t.content + "\" has id " +
                                    std::to_string(t.id) + ", far beyond the vocabulary");
      }
      if (static_cast<size_t>(t.id) >= id_to_token.size()) id_to_token.resize(t.id + 1);
      if (id_to_token[t.id].empty()) id_to_token[t.id] = t.content;
      AddedPattern p{t.content, t.id, t.single_word, t.lstrip, t.rstrip};
      if (t.normalized) {
        // The fast tokenizer matches normalized added tokens against normalized text, so their
        // own text is normalized first (e.g. lowercased).
        std::string content;
        std::vector<char32_t> pending;
        Normalize(t.content, content, pending);
        p.content = std::move(content);
        normalized.push_back(std::move(p));
      } else {
        raw.push_back(std::move(p));
      }
    }
    raw_matcher = AddedTokenMatcher(std::move(raw));
    normalized_matcher = AddedTokenMatcher(std::move(normalized));
    if (!spec.pipeline) {
      post = PostTemplate::Bert(Resolve(spec, spec.cls_token, "classifier (CLS)"),
                                Resolve(spec, spec.sep_token, "separator (SEP)"));
    }
    pad = Resolve(spec, spec.pad_token, "padding (PAD)");
  }

  void Normalize(std::string_view text, std::string& out, std::vector<char32_t>& pending) const {
    if (bert_normalizer) {
      bert_normalizer->Normalize(text, out, pending);
    } else if (normalizer) {
      normalizer->Normalize(text, out, nullptr);
    } else {
      out.append(text);
    }
  }

  // Normalize with the alignment: s.normalized and s.align (original bytes of the sequence,
  // `part` starting at `base`) replaced.
  void NormalizeAligned(std::string_view part, uint32_t base, Scratch& s) const {
    s.normalized.clear();
    s.align.clear();
    if (bert_normalizer) {
      bert_normalizer->Normalize(part, s.normalized, s.pending, &s.align);
    } else if (normalizer) {
      normalizer->Normalize(part, s.normalized, &s.align);
    } else {
      s.normalized.append(part);
      AppendIdentityAlignment(part, 0, s.align);
    }
    if (s.align.size() != s.normalized.size()) {
      // Every normalizer aligns its output; a gap here is a bug, not a property of the text.
      throw std::logic_error("the normalizer gave no alignment for its output, so offsets cannot be computed");
    }
    if (base != 0) {
      for (ByteRange& r : s.align) {
        r.begin += base;
        r.end += base;
      }
    }
  }

  // Appends one token of the sequence with its offsets and word (tracking only), trimmed as the
  // post-processor's trim_offsets says: trimming looks at one token and its index in the
  // sequence, and truncation only cuts the end, so it can happen as each token is made.
  void Track(SeqTokens& out, ByteRange offsets, int32_t word, std::string_view value) const {
    if (post.trim_offsets()) TrimOffsets(value, out.offsets.size(), post.trim_add_prefix_space(), offsets);
    out.offsets.push_back(offsets);
    out.word_ids.push_back(word);
  }

  // Tracking: the offsets of the tokens ids[from..) of one word (aligned by word_align), from
  // their ranges in s.ranges.
  void TrackWord(SeqTokens& out, size_t from, const ByteRange* word_align, size_t word_len, Scratch& s) const {
    for (size_t i = 0; i < s.ranges.size(); ++i) {
      Track(out, WordRangeToOriginal(word_align, word_len, s.ranges[i]), s.word, IdToToken(out.ids[from + i]));
    }
    ++s.word;
  }

  const std::string& IdToToken(int32_t id) const {
    static const std::string kNone;
    return id >= 0 && static_cast<size_t>(id) < id_to_token.size() ? id_to_token[static_cast<size_t>(id)] : kNone;
  }

  int32_t Find(std::string_view token) const { return model ? model->Find(token) : wordpiece->Find(token); }

  // Special tokens are looked up among the added tokens first, then in the vocabulary.
  int32_t Resolve(const TokenizerSpec& spec, const std::string& token, const char* what) const {
    for (const AddedToken& t : spec.added_tokens) {
      if (t.content == token) return t.id;
    }
    const int32_t id = Find(token);
    if (id < 0) {
      throw std::invalid_argument(std::string("the ") + what + " token \"" + token +
                                  "\" is neither an added token nor in the vocabulary");
    }
    return id;
  }

  // Appends the tokens of text between added tokens; stops once `out` holds `limit` ids. With
  // `align` (tracking), `text`'s bytes align to align[0..text.size()).
  bool Words(std::string_view text, const ByteRange* align, bool at_start, size_t limit, Scratch& s,
             SeqTokens& out) const {
    if (wordpiece) {
      // BERT: pre-tokenizer and WordPiece fused, word by word, so that a long text is only
      // read as far as the limit.
      bool go_on = true;
      if (align == nullptr) {
        PreTokenize(text, [&](std::string_view word, size_t chars) {
          wordpiece->Tokenize(word, chars, out.ids);
          go_on = out.ids.size() < limit;
          return go_on;
        });
      } else {
        PreTokenize(text, [&](std::string_view word, size_t chars) {
          const size_t from = out.ids.size();
          s.ranges.clear();
          wordpiece->Tokenize(word, chars, out.ids, s.ranges);
          TrackWord(out, from, align + (word.data() - text.data()), word.size(), s);
          go_on = out.ids.size() < limit;
          return go_on;
        });
      }
      return go_on;
    }
    s.words_in.Clear();
    s.words_in.Add(text, at_start, align);
    const tok::Words* words = &s.words_in;
    if (pre_tokenizer) {
      pre_tokenizer->Split(s.words_in, s.words_out);
      words = &s.words_out;
    }
    for (const Word& w : words->list) {
      if (align == nullptr) {
        model->Tokenize(words->View(w), out.ids, nullptr);
      } else {
        const size_t from = out.ids.size();
        s.ranges.clear();
        model->Tokenize(words->View(w), out.ids, &s.ranges);
        TrackWord(out, from, words->AlignOf(w), w.end - w.begin, s);
      }
      if (out.ids.size() >= limit) return false;
    }
    return true;
  }

  // Whether normalized `text` still starts at the original text's offset 0 (tokenizers'
  // offsets_original().0 == 0, which Metaspace's prepend_scheme "first" asks): false when the
  // normalizer strips or filters out the first character. Only the first character is looked at.
  bool StartSurvives(std::string_view text, Scratch&) const {
    if (!normalizer || text.empty()) return true;
    size_t len;
    unicode::DecodeUtf8(reinterpret_cast<const unsigned char*>(text.data()),
                        reinterpret_cast<const unsigned char*>(text.data()) + text.size(), &len);
    return !normalizer->DropsStart(text.substr(0, len));
  }

  // The tokens of one sequence (no special tokens); at most `limit` of them. With `track`, their
  // offsets (bytes of `text`) and word indices too.
  void Sequence(std::string_view text, size_t limit, bool track, Scratch& s, SeqTokens& out) const {
    out.Clear();
    s.word = 0;
    if (limit == 0) return;
    if (!wordpiece && !unicode::IsValidUtf8(text.data(), text.size())) {
      // Pipeline components assume well-formed text, as tokenizers' Rust strings are.
      unicode::ReplaceInvalidUtf8(text.data(), text.size(), s.valid);
      text = s.valid;
    }
    // An added token is a word of its own; its offsets cover what it matched (stripped
    // whitespace included), and its value for trim_offsets is that text.
    auto added = [&](int32_t id, ByteRange offsets, std::string_view value) {
      out.ids.push_back(id);
      if (track) Track(out, offsets, s.word++, value);
      return out.ids.size() < limit;
    };
    auto text_part = [&](std::string_view part, uint32_t base, bool at_start) -> bool {
      if (track) {
        NormalizeAligned(part, base, s);
      } else {
        s.normalized.clear();
        Normalize(part, s.normalized, s.pending);
      }
      const ByteRange* align = track ? s.align.data() : nullptr;
      if (normalized_matcher.empty()) return Words(s.normalized, align, at_start, limit, s, out);
      normalized_matcher.Split(s.normalized, s.normalized_segments);
      for (const Segment& seg : s.normalized_segments) {
        const std::string_view piece = std::string_view(s.normalized).substr(seg.begin, seg.end - seg.begin);
        if (seg.id >= 0) {
          const ByteRange offsets =
              track ? WordRangeToOriginal(align + seg.begin, piece.size(), ByteRange{0, static_cast<uint32_t>(piece.size())})
                    : ByteRange{};
          if (!added(seg.id, offsets, piece)) return false;
        } else if (!Words(piece, track ? align + seg.begin : nullptr, at_start && seg.begin == 0, limit, s, out)) {
          return false;
        }
      }
      return true;
    };
    if (raw_matcher.empty()) {
      text_part(text, 0, StartSurvives(text, s));
    } else {
      raw_matcher.Split(text, s.raw_segments);
      for (const Segment& seg : s.raw_segments) {
        const std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
        if (seg.id >= 0) {
          if (!added(seg.id, ByteRange{static_cast<uint32_t>(seg.begin), static_cast<uint32_t>(seg.end)}, piece)) break;
        } else if (!text_part(piece, static_cast<uint32_t>(seg.begin), seg.begin == 0 && StartSurvives(piece, s))) {
          break;
        }
      }
    }
    out.Cut(limit);
  }

  // Plain BERT.
  std::unique_ptr<BertNormalizer> bert_normalizer;
  std::unique_ptr<WordPiece> wordpiece;
  // tokenizer.json pipeline.
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;

  PostTemplate post;
  AddedTokenMatcher raw_matcher;
  AddedTokenMatcher normalized_matcher;
  std::vector<std::string> id_to_token;
  int32_t pad = -1;
};

Tokenizer::Tokenizer(TokenizerSpec spec) : impl_(std::make_unique<Impl>(spec)) {}
Tokenizer::~Tokenizer() = default;

Encoding Tokenizer::Encode(std::string_view a, const std::string_view* b, size_t max_length,
                           bool add_special_tokens, bool with_offsets) const {
  const Impl& im = *impl_;
  if (with_offsets && (a.size() > kMaxOffsetText || (b != nullptr && b->size() > kMaxOffsetText))) {
    throw std::length_error("a text of 4 GiB or more has no 32-bit offsets");
  }
  Scratch scratch;
  scratch.normalized.reserve(a.size() + (b ? b->size() : 0) + 16);
  SeqTokens seq_a, seq_b;
  const size_t specials = add_special_tokens ? im.post.added(b != nullptr) : 0;
  // The fast tokenizer gives the special tokens priority: whatever max_length leaves after
  // them is the budget for the text (none when max_length is smaller than they are).
  const bool truncate = max_length > 0;
  const size_t budget = !truncate ? kNoLimit : (max_length > specials ? max_length - specials : 0);
  const bool track = with_offsets;

  Encoding enc;
  size_t keep_a = 0, keep_b = 0;
  if (b == nullptr) {
    im.Sequence(a, budget, track, scratch, seq_a);
    keep_a = seq_a.ids.size();
  } else if (!truncate) {
    im.Sequence(a, kNoLimit, track, scratch, seq_a);
    im.Sequence(*b, kNoLimit, track, scratch, seq_b);
    keep_a = seq_a.ids.size();
    keep_b = seq_b.ids.size();
  } else {
    // Truncation only needs each length up to the point where the answer cannot change, so
    // a long sequence is not tokenized to its end: A up to budget + 1 ids (enough to know it
    // does not fit), B up to one more than both budget and A's length (enough to know it is
    // the longer one). Only when both overflow is their exact order unknown.
    im.Sequence(a, budget + 1, track, scratch, seq_a);
    const size_t cap_b = std::max(budget, seq_a.ids.size()) + 1;
    im.Sequence(*b, cap_b, track, scratch, seq_b);
    if (seq_a.ids.size() > budget && seq_b.ids.size() > budget) {
      im.Sequence(a, kNoLimit, track, scratch, seq_a);
      im.Sequence(*b, kNoLimit, track, scratch, seq_b);
    }
    const TruncatedLengths kept = LongestFirst(seq_a.ids.size(), seq_b.ids.size(), budget);
    keep_a = kept.a;
    keep_b = kept.b;
  }
  im.post.Apply(seq_a.ids, keep_a, b ? &seq_b.ids : nullptr, keep_b, add_special_tokens, enc.ids, enc.type_ids);
  if (track) {
    const PostTemplate::Tracked ta{&seq_a.offsets, &seq_a.word_ids}, tb{&seq_b.offsets, &seq_b.word_ids};
    im.post.ApplyOffsets(ta, keep_a, b ? &tb : nullptr, keep_b, add_special_tokens, enc.offsets, enc.word_ids,
                         enc.sequence_ids, enc.special_mask);
  }
  return enc;
}

int32_t Tokenizer::pad_id() const { return impl_->pad; }
int32_t Tokenizer::cls_id() const { return impl_->post.first_special(); }
int32_t Tokenizer::sep_id() const { return impl_->post.last_special(); }
size_t Tokenizer::vocab_size() const { return impl_->id_to_token.size(); }
int32_t Tokenizer::max_id() const {
  const int32_t table_max = static_cast<int32_t>(impl_->id_to_token.size()) - 1;
  return std::max({table_max, impl_->post.max_special_id(), impl_->pad});
}
int32_t Tokenizer::max_type_id() const { return impl_->post.max_type_id(); }
size_t Tokenizer::added_special_tokens(bool pair) const { return impl_->post.added(pair); }

const std::string& Tokenizer::IdToToken(int32_t id) const { return impl_->IdToToken(id); }

}  // namespace tce::tok
