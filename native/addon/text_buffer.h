// JS class TextBuffer: the texts of one predict()/encodeBatch() call, handed over from JS in
// chunks. Copying hundreds of thousands of strings out of V8 has to happen on the JS thread; done
// in chunks (lib/text-transfer.ts yields to the event loop between them), no single step blocks
// it for long. The call then takes the texts out of the buffer without copying them again.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace tce {

struct Texts {
  std::vector<std::string> a;  // first segments
  std::vector<std::string> b;  // second segments ("" where has_b is 0)
  std::vector<char> has_b;     // has_b[i]: text i is a pair
  bool all_pairs() const;
};

void InitTextBuffer(Napi::Env env, Napi::Object exports);

// Moves the texts out of a JS TextBuffer (which is then empty); throws for anything else.
Texts TakeTexts(Napi::Env env, const Napi::Value& buffer);

}  // namespace tce
