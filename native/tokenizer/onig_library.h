// Oniguruma, loaded at run time with dlopen() rather than linked: Debian ships it only as a shared
// library (libonig5), and linking it would make the whole addon fail to load on machines without
// it, including for tokenizers that never use a regex. Only tokenizer.json files with a Split or
// Replace regex (Qwen2/Qwen3, Llama-3...) reach this, at their first regex compile.
#pragma once

#include <oniguruma.h>

namespace tce::tok {

// The few Oniguruma entry points onig_regex.cc uses, resolved from the loaded library. The
// encoding and syntax are data the library exports (oniguruma.h's ONIG_ENCODING_UTF8 and
// ONIG_SYNTAX_DEFAULT name them), so they are resolved too, never bound at link time.
struct OnigLibrary {
  int (*initialize)(OnigEncoding encodings[], int number_of_encodings);
  int (*error_code_to_str)(OnigUChar* s, int err_code, ...);
  int (*new_regex)(regex_t** reg, const OnigUChar* pattern, const OnigUChar* pattern_end, OnigOptionType option,
                   OnigEncoding enc, OnigSyntaxType* syntax, OnigErrorInfo* einfo);
  void (*free_regex)(regex_t* reg);
  int (*search)(regex_t* reg, const OnigUChar* str, const OnigUChar* end, const OnigUChar* start,
                const OnigUChar* range, OnigRegion* region, OnigOptionType option);
  OnigRegion* (*region_new)();
  void (*region_clear)(OnigRegion* region);
  void (*region_free)(OnigRegion* region, int free_self);
  const char* (*version)();
  OnigEncoding utf8;              // &OnigEncodingUTF8
  OnigSyntaxType* default_syntax; // *OnigDefaultSyntax
};

// The library, loaded, checked (major version) and initialized for UTF-8 on the first call, from
// any thread. Throws std::runtime_error saying how to install it when it cannot be loaded; every
// later call throws the same.
//
// TCE_ONIG_LIBRARY (a test and debug override) names the one library file to load instead of
// libonig.so.5 then libonig.so; the tests point it at a missing file to run without Oniguruma.
const OnigLibrary& Onig();

}  // namespace tce::tok
