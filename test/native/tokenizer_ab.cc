// A/B throughput of the C++ tokenizer's BERT path between two checkouts, outside Node (the
// benchmark of record is npm run bench:tokenizer, against tokenizers): each text as a single
// sequence, and paired with a 200-byte prefix of another at max_length 512; median of 9 rounds.
//   g++ -std=c++17 -O3 -DNDEBUG -I<checkout>/native test/native/tokenizer_ab.cc \
//       <checkout>/native/tokenizer/*.cc <checkout>/native/tokenizer/*/*.cc -l:libutf8proc.a -pthread -o /tmp/ab_x
//   /tmp/ab_x biomedbert_vocab.txt pubmed_abstracts.jsonl label
// (before the stage directories existed, the second glob is dropped).
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>
#include "tokenizer/tokenizer.h"
using namespace tce::tok;
int main(int argc, char** argv) {
  TokenizerSpec spec;
  std::ifstream v(argv[1]); std::string line;
  while (std::getline(v, line)) spec.vocab.push_back(line);
  for (const char* s : {"[PAD]","[UNK]","[CLS]","[SEP]","[MASK]"}) for (size_t i = 0; i < spec.vocab.size(); ++i) if (spec.vocab[i] == s) { AddedToken t; t.content = s; t.id = (int32_t)i; spec.added_tokens.push_back(t); }
  Tokenizer tok(spec);
  std::vector<std::string> texts;
  std::ifstream c(argv[2]); while (std::getline(c, line)) texts.push_back(line);
  std::vector<double> ms;
  size_t total = 0;
  for (int r = 0; r < 9; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < texts.size(); ++i) {
      std::string_view b = texts[i];
      total += tok.Encode(texts[(i * 7) % texts.size()].substr(0, 200), &b, 512, true).ids.size();
      total += tok.Encode(texts[i], nullptr, 0, true).ids.size();
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::cout << argv[3] << " median_ms " << ms[ms.size() / 2] << " min_ms " << ms[0] << " tokens " << total / 9 << "\n";
}
