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
#include "tokenizer/pre_tokenizers/bert.h"
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"
#include "tokenizer/processors/template.h"
#include "tokenizer/processors/truncation.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();

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

  // Appends the ids of text between added tokens; stops once `out` holds `limit` ids.
  bool Words(std::string_view text, bool at_start, size_t limit, Scratch& s, std::vector<int32_t>& out) const {
    if (wordpiece) {
      // BERT: pre-tokenizer and WordPiece fused, word by word, so that a long text is only
      // read as far as the limit.
      bool go_on = true;
      PreTokenize(text, [&](std::string_view word, size_t chars) {
        wordpiece->Tokenize(word, chars, out);
        go_on = out.size() < limit;
        return go_on;
      });
      return go_on;
    }
    s.words_in.Clear();
    s.words_in.Add(text, at_start);
    const tok::Words* words = &s.words_in;
    if (pre_tokenizer) {
      pre_tokenizer->Split(s.words_in, s.words_out);
      words = &s.words_out;
    }
    for (const Word& w : words->list) {
      model->Tokenize(words->View(w), out);
      if (out.size() >= limit) return false;
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

  // Appends the ids of one sequence (no special tokens); at most `limit` of them.
  void Sequence(std::string_view text, size_t limit, Scratch& s, std::vector<int32_t>& out) const {
    out.clear();
    if (limit == 0) return;
    if (!wordpiece && !unicode::IsValidUtf8(text.data(), text.size())) {
      // Pipeline components assume well-formed text, as tokenizers' Rust strings are.
      unicode::ReplaceInvalidUtf8(text.data(), text.size(), s.valid);
      text = s.valid;
    }
    auto text_part = [&](std::string_view part, bool at_start) -> bool {
      s.normalized.clear();
      Normalize(part, s.normalized, s.pending);
      if (normalized_matcher.empty()) return Words(s.normalized, at_start, limit, s, out);
      normalized_matcher.Split(s.normalized, s.normalized_segments);
      for (const Segment& seg : s.normalized_segments) {
        if (seg.id >= 0) {
          out.push_back(seg.id);
          if (out.size() >= limit) return false;
        } else if (!Words(std::string_view(s.normalized).substr(seg.begin, seg.end - seg.begin),
                          at_start && seg.begin == 0, limit, s, out)) {
          return false;
        }
      }
      return true;
    };
    if (raw_matcher.empty()) {
      text_part(text, StartSurvives(text, s));
    } else {
      raw_matcher.Split(text, s.raw_segments);
      for (const Segment& seg : s.raw_segments) {
        if (seg.id >= 0) {
          out.push_back(seg.id);
          if (out.size() >= limit) break;
        } else if (!text_part(text.substr(seg.begin, seg.end - seg.begin),
                              seg.begin == 0 && StartSurvives(text.substr(seg.begin, seg.end - seg.begin), s))) {
          break;
        }
      }
    }
    if (out.size() > limit) out.resize(limit);
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
                           bool add_special_tokens) const {
  const Impl& im = *impl_;
  Scratch scratch;
  scratch.normalized.reserve(a.size() + (b ? b->size() : 0) + 16);
  std::vector<int32_t> ids_a, ids_b;
  const size_t specials = add_special_tokens ? im.post.added(b != nullptr) : 0;
  // The fast tokenizer gives the special tokens priority: whatever max_length leaves after
  // them is the budget for the text (none when max_length is smaller than they are).
  const bool truncate = max_length > 0;
  const size_t budget = !truncate ? kNoLimit : (max_length > specials ? max_length - specials : 0);

  Encoding enc;
  size_t keep_a = 0, keep_b = 0;
  if (b == nullptr) {
    im.Sequence(a, budget, scratch, ids_a);
    keep_a = ids_a.size();
  } else if (!truncate) {
    im.Sequence(a, kNoLimit, scratch, ids_a);
    im.Sequence(*b, kNoLimit, scratch, ids_b);
    keep_a = ids_a.size();
    keep_b = ids_b.size();
  } else {
    // Truncation only needs each length up to the point where the answer cannot change, so
    // a long sequence is not tokenized to its end: A up to budget + 1 ids (enough to know it
    // does not fit), B up to one more than both budget and A's length (enough to know it is
    // the longer one). Only when both overflow is their exact order unknown.
    im.Sequence(a, budget + 1, scratch, ids_a);
    const size_t cap_b = std::max(budget, ids_a.size()) + 1;
    im.Sequence(*b, cap_b, scratch, ids_b);
    if (ids_a.size() > budget && ids_b.size() > budget) {
      im.Sequence(a, kNoLimit, scratch, ids_a);
      im.Sequence(*b, kNoLimit, scratch, ids_b);
    }
    const TruncatedLengths kept = LongestFirst(ids_a.size(), ids_b.size(), budget);
    keep_a = kept.a;
    keep_b = kept.b;
  }
  im.post.Apply(ids_a, keep_a, b ? &ids_b : nullptr, keep_b, add_special_tokens, enc.ids, enc.type_ids);
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

const std::string& Tokenizer::IdToToken(int32_t id) const {
  static const std::string kNone;
  const auto& table = impl_->id_to_token;
  return id >= 0 && static_cast<size_t>(id) < table.size() ? table[static_cast<size_t>(id)] : kNone;
}

}  // namespace tce::tok
