// Stress test of the C++ tokenizer under sanitizers, outside Node: many threads encoding real
// text, random bytes (invalid UTF-8) and odd lengths at once, through the BERT path and two
// tokenizer.json pipelines (byte-level BPE with NFC and a template; Unigram with Metaspace,
// Replace/Strip normalizers and RobertaProcessing). Not part of the addon build.
//   g++ -std=c++17 -O1 -g -fsanitize=address,undefined -Inative test/native/tokenizer_stress.cc \
//       native/tokenizer/*.cc native/tokenizer/*/*.cc -l:libutf8proc.a -ldl -pthread -o /tmp/tok_stress
//   /tmp/tok_stress test/fixtures/tokenizer/bert_base_uncased_vocab.txt test/fixtures/tokenizer/pubmed_sample.jsonl
// (and the same with -fsanitize=thread); an optional third argument sets how many random byte
// strings join the corpus (test/native-stress.test.ts builds and runs it with a few). It prints
// "ok <name> <n>" per tokenizer and exits 0 when every threaded encoding equals the
// single-threaded one and respects its max_length, encodings with offsets carry the same ids and
// offsets within their texts, and nothing is reported.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
using namespace tce::tok;

static JsonValue Str(const std::string& s) { JsonValue v; v.kind = JsonValue::Kind::kString; v.string = s; return v; }
static JsonValue Num(double n) { JsonValue v; v.kind = JsonValue::Kind::kNumber; v.number = n; return v; }
static JsonValue Flag(bool b) { JsonValue v; v.kind = JsonValue::Kind::kBool; v.boolean = b; return v; }
static JsonValue Arr(std::vector<JsonValue> items) { JsonValue v; v.kind = JsonValue::Kind::kArray; v.items = std::move(items); return v; }
static JsonValue Obj(std::vector<std::pair<std::string, JsonValue>> fields) { JsonValue v; v.kind = JsonValue::Kind::kObject; v.fields = std::move(fields); return v; }

static JsonValue Template(const std::string& cls, int32_t cls_id, const std::string& sep, int32_t sep_id) {
  auto special = [](const std::string& id, int type) { return Obj({{"SpecialToken", Obj({{"id", Str(id)}, {"type_id", Num(type)}})}}); };
  auto seq = [](const std::string& id, int type) { return Obj({{"Sequence", Obj({{"id", Str(id)}, {"type_id", Num(type)}})}}); };
  return Obj({{"type", Str("TemplateProcessing")},
              {"single", Arr({special(cls, 0), seq("A", 0), special(sep, 0)})},
              {"pair", Arr({special(cls, 0), seq("A", 0), special(sep, 0), seq("B", 1), special(sep, 1)})},
              {"special_tokens", Obj({{cls, Obj({{"id", Str(cls)}, {"ids", Arr({Num(cls_id)})}, {"tokens", Arr({Str(cls)})}})},
                                      {sep, Obj({{"id", Str(sep)}, {"ids", Arr({Num(sep_id)})}, {"tokens", Arr({Str(sep)})}})}})}});
}

// GPT-2's byte alphabet, a few merges, NFC, the [CLS] A [SEP] B [SEP] template.
static TokenizerSpec ByteLevelBpe() {
  TokenizerSpec spec;
  spec.pipeline = true;
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    std::string ch;
    unicode::AppendUtf8(static_cast<char32_t>(printable ? b : 256 + next++), ch);
    spec.vocab.push_back(ch);
  }
  const std::string G = "\xC4\xA0";  // the byte-level space
  for (auto [a, b] : std::vector<std::pair<std::string, std::string>>{{G, "t"}, {"h", "e"}, {G + "t", "he"}, {"i", "n"}, {"in", "g"}, {G, "a"}}) {
    spec.merges.push_back(a);
    spec.merges.push_back(b);
    spec.vocab.push_back(a + b);
  }
  for (const char* s : {"[CLS]", "[SEP]", "[PAD]"}) {
    AddedToken t; t.content = s; t.id = static_cast<int32_t>(spec.vocab.size()); spec.vocab.push_back(s); spec.added_tokens.push_back(t);
  }
  spec.pad_token = "[PAD]";
  spec.normalizer = Obj({{"type", Str("NFC")}});
  spec.pre_tokenizer = Obj({{"type", Str("ByteLevel")}, {"add_prefix_space", Flag(true)}, {"use_regex", Flag(true)}});
  spec.model = Obj({{"type", Str("BPE")}, {"byte_fallback", Flag(false)}, {"ignore_merges", Flag(false)}});
  const int32_t n = static_cast<int32_t>(spec.vocab.size());
  spec.post_processor = Template("[CLS]", n - 3, "[SEP]", n - 2);
  return spec;
}

// A Unigram over ASCII pieces with byte fallback, Metaspace, Strip + Replace, RobertaProcessing.
static TokenizerSpec MetaspaceUnigram() {
  TokenizerSpec spec;
  spec.pipeline = true;
  std::mt19937 rng(7);
  auto piece = [&](const std::string& p) { spec.vocab.push_back(p); spec.scores.push_back(-1.0 - (rng() % 1000) / 100.0); };
  for (const char* s : {"<s>", "<pad>", "</s>", "<unk>"}) { spec.vocab.push_back(s); spec.scores.push_back(0); }
  for (const char* p : {"\xE2\x96\x81", "\xE2\x96\x81the", "\xE2\x96\x81" "a", "ing", "tion", "\xE2\x96\x81in"}) piece(p);
  for (char c = 33; c < 127; ++c) piece(std::string(1, c));
  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) piece(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
  for (const char* s : {"<s>", "<pad>", "</s>", "<unk>"}) {
    AddedToken t; t.content = s; t.id = static_cast<int32_t>(std::find(spec.vocab.begin(), spec.vocab.end(), s) - spec.vocab.begin()); spec.added_tokens.push_back(t);
  }
  spec.pad_token = "<pad>";
  spec.normalizer = Obj({{"type", Str("Sequence")}, {"normalizers", Arr({
      Obj({{"type", Str("Strip")}, {"strip_left", Flag(false)}, {"strip_right", Flag(true)}}),
      Obj({{"type", Str("Replace")}, {"pattern", Obj({{"Regex", Str("\\s{2,}|[\\n\\r\\t]")}})}, {"content", Str(" ")}}),
      Obj({{"type", Str("NFKC")}})})}});
  spec.pre_tokenizer = Obj({{"type", Str("Metaspace")}, {"replacement", Str("\xE2\x96\x81")}, {"prepend_scheme", Str("always")}, {"split", Flag(true)}});
  spec.model = Obj({{"type", Str("Unigram")}, {"unk_id", Num(3)}, {"byte_fallback", Flag(true)}});
  spec.post_processor = Obj({{"type", Str("RobertaProcessing")}, {"sep", Arr({Str("</s>"), Num(2)})}, {"cls", Arr({Str("<s>"), Num(0)})}});
  return spec;
}

static bool SameOffsets(const Encoding& a, const Encoding& b) {
  if (a.offsets.size() != b.offsets.size()) return false;
  for (size_t i = 0; i < a.offsets.size(); ++i) {
    if (a.offsets[i].begin != b.offsets[i].begin || a.offsets[i].end != b.offsets[i].end) return false;
  }
  return a.word_ids == b.word_ids && a.sequence_ids == b.sequence_ids && a.special_mask == b.special_mask;
}

// The offset fields run parallel to the ids, and each range lies within its own sequence's text
// (ill-formed UTF-8 is replaced before the pipeline, one to three bytes per bad byte, so the
// bound is three times the input there).
static bool OffsetsInRange(const Encoding& e, size_t size_a, size_t size_b) {
  const size_t n = e.ids.size();
  if (e.offsets.size() != n || e.word_ids.size() != n || e.sequence_ids.size() != n || e.special_mask.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    const ByteRange r = e.offsets[i];
    const int8_t seq = e.sequence_ids[i];
    if (seq < 0) {
      if (r.begin != 0 || r.end != 0 || e.word_ids[i] != -1 || e.special_mask[i] != 1) return false;
      continue;
    }
    if (r.begin > r.end || r.end > 3 * (seq == 0 ? size_a : size_b) || e.word_ids[i] < 0 || e.special_mask[i] != 0) return false;
  }
  return true;
}

static bool Stress(const char* name, const Tokenizer& tok, const std::vector<std::string>& texts) {
  // Single-threaded reference first; then four threads must reproduce it exactly, and every
  // encoding must respect its max_length and pair its ids with type ids. The threads also ask
  // for offsets (every other encoding), which must leave the ids alone, equal the
  // single-threaded offsets and stay within their texts.
  const size_t lengths[] = {0, 3, 5, 32, 512};
  auto encode = [&](size_t i, size_t ml, bool pair, bool offsets) {
    std::string_view b = texts[(i * 7) % texts.size()];
    return pair ? tok.Encode(texts[i], &b, ml, true, offsets) : tok.Encode(texts[i], nullptr, ml, ml != 5, offsets);
  };
  std::vector<std::vector<int32_t>> reference;
  std::vector<Encoding> with_offsets;
  for (size_t i = 0; i < texts.size(); ++i)
    for (size_t ml : lengths)
      for (bool pair : {true, false}) {
        reference.push_back(encode(i, ml, pair, false).ids);
        with_offsets.push_back(encode(i, ml, pair, true));
      }
  std::vector<size_t> failures(4);
  std::vector<std::thread> th;
  for (int t = 0; t < 4; ++t) th.emplace_back([&, t] {
    for (size_t i = t; i < texts.size(); i += 4) {
      size_t k = i * 10;
      for (size_t ml : lengths) for (bool pair : {true, false}) {
        const bool offsets = (k + t) % 2 == 0;
        Encoding e = encode(i, ml, pair, offsets);
        bool ok = e.ids == reference[k] && e.type_ids.size() == e.ids.size() &&
                  // A max_length below the specials is refused by lib/ (tokenizers underflows).
                  (ml == 0 || ml < tok.added_special_tokens(pair) || e.ids.size() <= ml);
        if (offsets) {
          ok = ok && SameOffsets(e, with_offsets[k]) &&
               OffsetsInRange(e, texts[i].size(), pair ? texts[(i * 7) % texts.size()].size() : 0);
        } else {
          ok = ok && e.offsets.empty() && e.word_ids.empty() && e.sequence_ids.empty() && e.special_mask.empty();
        }
        ++k;
        if (!ok) ++failures[t];
      }
    }
  });
  for (auto& x : th) x.join();
  size_t failed = 0;
  for (size_t f : failures) failed += f;
  if (failed != 0) {
    std::cout << "FAILED " << name << " " << failed << " encodings\n";
    return false;
  }
  std::cout << "ok " << name << " " << reference.size() << "\n";
  return true;
}

int main(int argc, char** argv) {
  TokenizerSpec spec;
  std::ifstream v(argv[1]); std::string line;
  while (std::getline(v, line)) spec.vocab.push_back(line);
  const char* sp[] = {"[PAD]","[UNK]","[CLS]","[SEP]","[MASK]"};
  for (auto s : sp) for (size_t i = 0; i < spec.vocab.size(); ++i) if (spec.vocab[i] == s) { AddedToken t; t.content = s; t.id = (int32_t)i; spec.added_tokens.push_back(t); }
  AddedToken n; n.content = "Hello"; n.id = 7; n.normalized = true; n.special = false; n.single_word = true; n.lstrip = true; n.rstrip = true; spec.added_tokens.push_back(n);
  std::vector<std::string> texts;
  std::ifstream c(argv[2]); while (std::getline(c, line)) texts.push_back(line);
  std::mt19937 rng(42);
  // argv[3]: how many random byte strings to add (3000 unless given; the suite passes fewer).
  const int random_texts = argc > 3 ? std::atoi(argv[3]) : 3000;
  for (int i = 0; i < random_texts; ++i) { std::string s; int len = rng() % 300; for (int j = 0; j < len; ++j) s.push_back((char)(rng() % 256)); texts.push_back(s); }
  texts.push_back(""); texts.push_back(std::string(5000, 'a')); texts.push_back("hello [SEP]  Hello  x <s> </s>\t\n  ");
  const Tokenizer bert(spec);
  const Tokenizer bpe(ByteLevelBpe());
  const Tokenizer unigram(MetaspaceUnigram());
  const bool ok = Stress("bert", bert, texts) & Stress("byte-level-bpe", bpe, texts) & Stress("metaspace-unigram", unigram, texts);
  return ok ? 0 : 1;
}
