#include "tokenizer/processors/template.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace tce::tok {

namespace {

constexpr int32_t kKeep = -1;
constexpr int64_t kMaxId = std::numeric_limits<int32_t>::max();

TemplatePiece Special(std::vector<int32_t> ids, int32_t type_id) {
  TemplatePiece p;
  p.kind = TemplatePiece::Kind::kSpecial;
  p.type_id = type_id;
  p.ids = std::move(ids);
  return p;
}

TemplatePiece Seq(TemplatePiece::Kind kind, int32_t type_id) {
  TemplatePiece p;
  p.kind = kind;
  p.type_id = type_id;
  return p;
}

// BertProcessing / RobertaProcessing give their tokens as ["[CLS]", 101].
int32_t TokenId(const Settings& s, const char* key) {
  const std::vector<JsonValue>& pair = s.Array(key);
  if (pair.size() != 2 ||
      pair[1].kind != JsonValue::Kind::kNumber || pair[1].number < 0 ||
      pair[1].number > static_cast<double>(kMaxId) ||
      static_cast<double>(static_cast<int32_t>(pair[1].number)) != pair[1].number) {
    s.Fail(std::string("\"") + key + "\" must be [token, id]");
  }
  return static_cast<int32_t>(pair[1].number);
}

std::vector<TemplatePiece> ParseTemplate(const Settings& s, const char* key) {
  const JsonValue& specials = s.Object("special_tokens");
  std::vector<TemplatePiece> out;
  for (const JsonValue& item : s.Array(key)) {
    if (!item.is_object() || item.fields.size() != 1 || !item.fields[0].second.is_object()) {
      s.Fail(std::string("\"") + key + "\": each piece must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
    const std::string& kind = item.fields[0].first;
    const Settings piece(item.fields[0].second, s.what() + " " + key + " piece " + kind);
    const int32_t type_id = static_cast<int32_t>(piece.Integer("type_id", 0, 0, kMaxId));
    const std::string id = piece.RequiredString("id");
    if (kind == "Sequence") {
      if (id != "A" && id != "B") piece.Fail("\"id\" must be \"A\" or \"B\"");
      out.push_back(Seq(id == "A" ? TemplatePiece::Kind::kA : TemplatePiece::Kind::kB, type_id));
    } else if (kind == "SpecialToken") {
      const JsonValue* entry = specials.Get(id);
      if (entry == nullptr) piece.Fail("\"" + id + "\" is not in special_tokens");
      const Settings token(*entry, s.what() + " special_tokens \"" + id + "\"");
      std::vector<int32_t> ids;
      for (const JsonValue& v : token.Array("ids")) {
        if (v.kind != JsonValue::Kind::kNumber || v.number < 0 || v.number > static_cast<double>(kMaxId) ||
            static_cast<double>(static_cast<int32_t>(v.number)) != v.number) {
          token.Fail("\"ids\" must hold non-negative integer ids");
        }
        ids.push_back(static_cast<int32_t>(v.number));
      }
      out.push_back(Special(std::move(ids), type_id));
    } else {
      s.Fail("template piece \"" + kind + "\" is not supported");
    }
  }
  return out;
}

}  // namespace

PostTemplate::PostTemplate() {
  single_ = {Seq(TemplatePiece::Kind::kA, kKeep)};
  pair_ = {Seq(TemplatePiece::Kind::kA, kKeep), Seq(TemplatePiece::Kind::kB, kKeep)};
  Count();
}

PostTemplate PostTemplate::Bert(int32_t cls, int32_t sep) {
  PostTemplate t;
  using K = TemplatePiece::Kind;
  t.single_ = {Special({cls}, 0), Seq(K::kA, 0), Special({sep}, 0)};
  t.pair_ = {Special({cls}, 0), Seq(K::kA, 0), Special({sep}, 0), Seq(K::kB, 1), Special({sep}, 1)};
  t.Count();
  return t;
}

PostTemplate PostTemplate::FromJson(const JsonValue& json) {
  if (json.is_null()) return PostTemplate();
  const Settings s(json, "post_processor");
  const std::string type = s.Type();
  const Settings named(json, "post_processor " + type);
  using K = TemplatePiece::Kind;
  PostTemplate t;
  if (type == "BertProcessing") {
    return Bert(TokenId(named, "cls"), TokenId(named, "sep"));
  } else if (type == "RobertaProcessing") {
    // Every type id is 0, with or without the special tokens (tokenizers' roberta.rs).
    const int32_t cls = TokenId(named, "cls"), sep = TokenId(named, "sep");
    t.trim_offsets_ = named.Bool("trim_offsets", true);
    t.trim_add_prefix_space_ = named.Bool("add_prefix_space", true);
    t.single_ = {Special({cls}, 0), Seq(K::kA, 0), Special({sep}, 0)};
    t.pair_ = {Special({cls}, 0), Seq(K::kA, 0), Special({sep}, 0),
               Special({sep}, 0), Seq(K::kB, 0), Special({sep}, 0)};
  } else if (type == "TemplateProcessing") {
    t.single_ = ParseTemplate(named, "single");
    t.pair_ = ParseTemplate(named, "pair");
  } else if (type == "ByteLevel") {
    // Only trims offsets: ids and type ids are those of no post-processor.
    t.trim_offsets_ = named.Bool("trim_offsets", true);
    t.trim_add_prefix_space_ = named.Bool("add_prefix_space", true);
    return t;
  } else if (type == "Sequence") {
    // Members apply in order; ByteLevel ones leave ids alone, so at most one member may add
    // tokens, and the sequence is that member.
    // A ByteLevel member trims offsets before the template sees them (trimming is per token of
    // each sequence, so its place before or after the adding member does not matter).
    int adders = 0;
    bool trim = false, trim_prefix = false;
    for (const JsonValue& member : named.Array("processors")) {
      PostTemplate m = FromJson(member);
      const Settings ms(member, "post_processor Sequence member");
      if (m.trim_offsets_) {
        if (trim) named.Fail("more than one member that trims offsets is not supported");
        trim = true;
        trim_prefix = m.trim_add_prefix_space_;
      }
      if (ms.Type() == "ByteLevel") continue;
      if (++adders > 1) named.Fail("more than one member that adds tokens is not supported");
      t = std::move(m);
    }
    t.trim_offsets_ = trim;
    t.trim_add_prefix_space_ = trim_prefix;
    return t;
  } else {
    named.Fail("is not supported (supported: BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel, Sequence)");
  }
  t.Count();
  return t;
}

void PostTemplate::Count() {
  auto count = [](const std::vector<TemplatePiece>& pieces) {
    size_t n = 0;
    for (const TemplatePiece& p : pieces) n += p.ids.size();
    return n;
  };
  added_single_ = count(single_);
  added_pair_ = count(pair_);
}

int32_t PostTemplate::first_special() const {
  for (const TemplatePiece& p : single_) {
    if (p.kind == TemplatePiece::Kind::kSpecial && !p.ids.empty()) return p.ids.front();
  }
  return -1;
}

int32_t PostTemplate::last_special() const {
  for (auto it = single_.rbegin(); it != single_.rend(); ++it) {
    if (it->kind == TemplatePiece::Kind::kSpecial && !it->ids.empty()) return it->ids.back();
  }
  return -1;
}

int32_t PostTemplate::max_special_id() const {
  int32_t m = -1;
  for (const auto* pieces : {&single_, &pair_}) {
    for (const TemplatePiece& p : *pieces) {
      for (int32_t id : p.ids) m = std::max(m, id);
    }
  }
  return m;
}

int32_t PostTemplate::max_type_id() const {
  int32_t m = 0;
  for (const auto* pieces : {&single_, &pair_}) {
    for (const TemplatePiece& p : *pieces) {
      int32_t t = p.type_id;
      if (t == kKeep) t = p.kind == TemplatePiece::Kind::kB ? 1 : 0;
      m = std::max(m, t);
    }
  }
  return m;
}

void PostTemplate::Apply(const std::vector<int32_t>& a, size_t keep_a, const std::vector<int32_t>* b,
                         size_t keep_b, bool add_special_tokens, std::vector<int32_t>& ids,
                         std::vector<int32_t>& type_ids) const {
  const std::vector<TemplatePiece>& pieces = b != nullptr ? pair_ : single_;
  const size_t total = keep_a + (b != nullptr ? keep_b : 0) + (add_special_tokens ? added(b != nullptr) : 0);
  ids.clear();
  type_ids.clear();
  ids.reserve(total);
  type_ids.reserve(total);
  for (const TemplatePiece& p : pieces) {
    switch (p.kind) {
      case TemplatePiece::Kind::kSpecial:
        if (!add_special_tokens) break;
        ids.insert(ids.end(), p.ids.begin(), p.ids.end());
        type_ids.insert(type_ids.end(), p.ids.size(), p.type_id);
        break;
      case TemplatePiece::Kind::kA:
        ids.insert(ids.end(), a.begin(), a.begin() + static_cast<std::ptrdiff_t>(keep_a));
        type_ids.insert(type_ids.end(), keep_a, p.type_id == kKeep ? 0 : p.type_id);
        break;
      case TemplatePiece::Kind::kB:
        // A pair template used for a single sequence never happens; a single template has no B.
        if (b == nullptr) break;
        ids.insert(ids.end(), b->begin(), b->begin() + static_cast<std::ptrdiff_t>(keep_b));
        type_ids.insert(type_ids.end(), keep_b, p.type_id == kKeep ? 1 : p.type_id);
        break;
    }
  }
}

void PostTemplate::ApplyOffsets(const Tracked& a, size_t keep_a, const Tracked* b, size_t keep_b,
                                bool add_special_tokens, std::vector<ByteRange>& offsets,
                                std::vector<int32_t>& word_ids, std::vector<int8_t>& sequence_ids,
                                std::vector<uint8_t>& special_mask) const {
  const std::vector<TemplatePiece>& pieces = b != nullptr ? pair_ : single_;
  offsets.clear();
  word_ids.clear();
  sequence_ids.clear();
  special_mask.clear();
  auto sequence = [&](const Tracked& t, size_t keep, int8_t id) {
    offsets.insert(offsets.end(), t.offsets->begin(), t.offsets->begin() + static_cast<std::ptrdiff_t>(keep));
    word_ids.insert(word_ids.end(), t.word_ids->begin(), t.word_ids->begin() + static_cast<std::ptrdiff_t>(keep));
    sequence_ids.insert(sequence_ids.end(), keep, id);
    special_mask.insert(special_mask.end(), keep, 0);
  };
  for (const TemplatePiece& p : pieces) {
    switch (p.kind) {
      case TemplatePiece::Kind::kSpecial:
        if (!add_special_tokens) break;
        offsets.insert(offsets.end(), p.ids.size(), ByteRange{0, 0});
        word_ids.insert(word_ids.end(), p.ids.size(), -1);
        sequence_ids.insert(sequence_ids.end(), p.ids.size(), -1);
        special_mask.insert(special_mask.end(), p.ids.size(), 1);
        break;
      case TemplatePiece::Kind::kA:
        sequence(a, keep_a, 0);
        break;
      case TemplatePiece::Kind::kB:
        if (b != nullptr) sequence(*b, keep_b, 1);
        break;
    }
  }
}

}  // namespace tce::tok
