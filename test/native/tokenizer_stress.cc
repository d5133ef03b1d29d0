// Stress test of the C++ tokenizer under sanitizers, outside Node: many threads encoding real
// text, random bytes (invalid UTF-8) and odd lengths at once. Not part of the addon build.
//   g++ -std=c++17 -O1 -g -fsanitize=address,undefined -Inative test/native/tokenizer_stress.cc \
//       native/tokenizer/*.cc -l:libutf8proc.a -pthread -o /tmp/tok_stress
//   /tmp/tok_stress test/fixtures/tokenizer/bert_base_uncased_vocab.txt test/fixtures/tokenizer/pubmed_sample.jsonl
// (and the same with -fsanitize=thread). It prints "ok <n>" and exits 0 when every threaded
// encoding equals the single-threaded one and respects its max_length, and nothing is reported.
#include <fstream>
#include <iostream>
#include <random>
#include <thread>
#include "tokenizer/tokenizer.h"
using namespace tce::tok;
int main(int argc, char** argv) {
  TokenizerSpec spec;
  std::ifstream v(argv[1]); std::string line;
  while (std::getline(v, line)) spec.vocab.push_back(line);
  const char* sp[] = {"[PAD]","[UNK]","[CLS]","[SEP]","[MASK]"};
  for (auto s : sp) for (size_t i = 0; i < spec.vocab.size(); ++i) if (spec.vocab[i] == s) { AddedToken t; t.content = s; t.id = (int32_t)i; spec.added_tokens.push_back(t); }
  AddedToken n; n.content = "Hello"; n.id = 7; n.normalized = true; n.special = false; n.single_word = true; n.lstrip = true; n.rstrip = true; spec.added_tokens.push_back(n);
  Tokenizer tok(spec);
  std::vector<std::string> texts;
  std::ifstream c(argv[2]); while (std::getline(c, line)) texts.push_back(line);
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) { std::string s; int len = rng() % 300; for (int j = 0; j < len; ++j) s.push_back((char)(rng() % 256)); texts.push_back(s); }
  texts.push_back(""); texts.push_back(std::string(5000, 'a')); texts.push_back("hello [SEP]  Hello  x");
  // Single-threaded reference first; then four threads must reproduce it exactly, and every
  // encoding must respect its max_length and pair its ids with type ids.
  const size_t lengths[] = {0, 3, 5, 32, 512};
  auto encode = [&](size_t i, size_t ml, bool pair) {
    std::string_view b = texts[(i * 7) % texts.size()];
    return pair ? tok.Encode(texts[i], &b, ml, true) : tok.Encode(texts[i], nullptr, ml, ml != 5);
  };
  std::vector<std::vector<int32_t>> reference;
  for (size_t i = 0; i < texts.size(); ++i)
    for (size_t ml : lengths)
      for (bool pair : {true, false}) reference.push_back(encode(i, ml, pair).ids);
  std::vector<size_t> failures(4);
  std::vector<std::thread> th;
  for (int t = 0; t < 4; ++t) th.emplace_back([&, t] {
    for (size_t i = t; i < texts.size(); i += 4) {
      size_t k = i * 10;
      for (size_t ml : lengths) for (bool pair : {true, false}) {
        Encoding e = encode(i, ml, pair);
        const bool ok = e.ids == reference[k++] && e.type_ids.size() == e.ids.size() &&
                        (ml == 0 || e.ids.size() <= ml);
        if (!ok) ++failures[t];
      }
    }
  });
  for (auto& x : th) x.join();
  size_t failed = 0;
  for (size_t f : failures) failed += f;
  if (failed != 0) {
    std::cout << "FAILED " << failed << " encodings\n";
    return 1;
  }
  std::cout << "ok " << reference.size() << "\n";
}
