// The JS Tokenizer object wraps a shared, immutable tok::Tokenizer; models hold the same one.
#pragma once

#include <napi.h>

#include <memory>

#include "tokenizer/tokenizer.h"

namespace tce {

// The native tokenizer behind a JS Tokenizer object; throws a coded error for anything else.
std::shared_ptr<const tok::Tokenizer> UnwrapTokenizer(Napi::Env env, Napi::Value value);

}  // namespace tce
