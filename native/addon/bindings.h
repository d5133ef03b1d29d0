// Each binding file registers its part of the addon's exports; module.cc calls them all.
#pragma once

#include <napi.h>

#include <string>

namespace tce {

void InitRuntime(Napi::Env env, Napi::Object exports);    // runtime_binding.cc
void InitTokenizer(Napi::Env env, Napi::Object exports);  // tokenizer_binding.cc
void InitModel(Napi::Env env, Napi::Object exports);      // model_binding.cc

// The one constructor of the addon's errors: an Error whose `code` is one of lib/errors.ts's codes
// (or ABORT_ERR).
Napi::Error MakeCodedError(Napi::Env env, const std::string& message, const char* code);

}  // namespace tce
