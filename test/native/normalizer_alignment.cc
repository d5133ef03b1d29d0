// Prints what each normalizer of native/tokenizer/normalizers makes of a text, with the
// alignment it reports, for test/normalizer-alignment.test.ts to compare with tokenizers.
// stdin: lines "<normalizer JSON>" (starting with "{"), each followed by the lines of the texts to
// normalize with it, "<text as hex of its UTF-8>" (empty for an empty text).
// stdout: one line per text, "<normalized text as hex> <drops start: 0 or 1> <begin>:<end> ..."
// with one range per output byte, or "error <message>" when the normalizer cannot be built.
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

#include "tokenizer/normalizers/normalizer.h"

namespace {

using tce::tok::JsonValue;

// A small JSON reader: the cases are written by the test, so malformed input is a test bug.
class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  JsonValue Parse() {
    Skip();
    JsonValue v;
    const char c = s_.at(at_);
    if (c == '{') {
      v.kind = JsonValue::Kind::kObject;
      ++at_;
      Skip();
      if (s_.at(at_) == '}') { ++at_; return v; }
      for (;;) {
        Skip();
        std::string key = ParseString();
        Skip();
        Expect(':');
        v.fields.emplace_back(std::move(key), Parse());
        Skip();
        if (s_.at(at_) == ',') { ++at_; continue; }
        Expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.kind = JsonValue::Kind::kArray;
      ++at_;
      Skip();
      if (s_.at(at_) == ']') { ++at_; return v; }
      for (;;) {
        v.items.push_back(Parse());
        Skip();
        if (s_.at(at_) == ',') { ++at_; continue; }
        Expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.kind = JsonValue::Kind::kString;
      v.string = ParseString();
      return v;
    }
    if (s_.compare(at_, 4, "true") == 0) { at_ += 4; v.kind = JsonValue::Kind::kBool; v.boolean = true; return v; }
    if (s_.compare(at_, 5, "false") == 0) { at_ += 5; v.kind = JsonValue::Kind::kBool; return v; }
    if (s_.compare(at_, 4, "null") == 0) { at_ += 4; return v; }
    size_t used;
    v.kind = JsonValue::Kind::kNumber;
    v.number = std::stod(s_.substr(at_), &used);
    at_ += used;
    return v;
  }

 private:
  void Skip() { while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n')) ++at_; }
  void Expect(char c) {
    if (s_.at(at_) != c) throw std::runtime_error(std::string("expected ") + c);
    ++at_;
  }
  unsigned Hex4() {
    const unsigned v = std::stoul(s_.substr(at_, 4), nullptr, 16);
    at_ += 4;
    return v;
  }
  static void Append(char32_t c, std::string& out) {
    if (c < 0x80) { out.push_back(static_cast<char>(c)); }
    else if (c < 0x800) { out.push_back(static_cast<char>(0xC0 | (c >> 6))); out.push_back(static_cast<char>(0x80 | (c & 0x3F))); }
    else if (c < 0x10000) { out.push_back(static_cast<char>(0xE0 | (c >> 12))); out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F))); out.push_back(static_cast<char>(0x80 | (c & 0x3F))); }
    else { out.push_back(static_cast<char>(0xF0 | (c >> 18))); out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F))); out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F))); out.push_back(static_cast<char>(0x80 | (c & 0x3F))); }
  }
  std::string ParseString() {
    Expect('"');
    std::string out;
    while (s_.at(at_) != '"') {
      char c = s_[at_++];
      if (c != '\\') { out.push_back(c); continue; }
      c = s_.at(at_++);
      switch (c) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u': {
          char32_t cp = Hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(at_, 2, "\\u") == 0) {
            at_ += 2;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (Hex4() - 0xDC00);
          }
          Append(cp, out);
          break;
        }
        default: out.push_back(c);
      }
    }
    ++at_;
    return out;
  }
  const std::string& s_;
  size_t at_ = 0;
};

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace

int main() {
  std::string line, error;
  std::unique_ptr<tce::tok::Normalizer> normalizer;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line[0] == '{') {
      normalizer.reset();
      error.clear();
      try {
        normalizer = tce::tok::MakeNormalizer(Reader(line).Parse());
      } catch (const std::exception& e) {
        error = e.what();
      }
      continue;
    }
    if (!normalizer) {
      std::printf("error %s\n", error.c_str());
      continue;
    }
    const std::string text = FromHex(line);
    std::string out, plain;
    tce::tok::Alignment align;
    normalizer->Normalize(text, out, &align);
    normalizer->Normalize(text, plain, nullptr);
    // The two paths must write the same text, and the aligned one a range per byte.
    if (out != plain || align.size() != out.size()) {
      std::printf("mismatch %zu %zu %zu\n", out.size(), plain.size(), align.size());
      continue;
    }
    for (unsigned char c : out) std::printf("%02x", c);
    std::printf(" %d", normalizer->DropsStart(text) ? 1 : 0);
    for (const auto& r : align) std::printf(" %u:%u", r.begin, r.end);
    std::printf("\n");
  }
  return 0;
}
