#include "tokenizer/onig_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace tce::tok {

namespace {

const char kInstallHint[] =
    "Install Debian/Ubuntu's libonig5: apt install libonig5 (only tokenizers with a Split or Replace "
    "regex, such as Qwen2/Qwen3 and Llama-3, need it).";

std::string DlError() {
  const char* text = dlerror();
  return text == nullptr ? std::string("unknown dlopen error") : std::string(text);
}

void* Resolve(void* handle, const char* name, const std::string& library) {
  dlerror();
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    throw std::runtime_error("The Oniguruma library " + library + " lacks " + name + " (" + DlError() +
                             "): it is not Oniguruma 6. " + kInstallHint);
  }
  return symbol;
}

template <typename Fn>
void Bind(void* handle, const char* name, const std::string& library, Fn*& slot) {
  slot = reinterpret_cast<Fn*>(Resolve(handle, name, library));
}

OnigLibrary Load() {
  std::vector<std::string> candidates;
  const char* override_path = std::getenv("TCE_ONIG_LIBRARY");
  if (override_path != nullptr && *override_path != '\0') {
    candidates.emplace_back(override_path);
  } else {
    candidates = {"libonig.so.5", "libonig.so"};
  }
  void* handle = nullptr;
  std::string library;
  std::string errors;
  for (const auto& candidate : candidates) {
    // Never closed: compiled regexes live as long as the tokenizers that hold them.
    handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      library = candidate;
      break;
    }
    errors += (errors.empty() ? "" : "; ") + DlError();
  }
  if (handle == nullptr) {
    throw std::runtime_error("This tokenizer.json has a Split or Replace regex, which needs the Oniguruma "
                             "regex library, and it could not be loaded (" + errors + "). " + kInstallHint);
  }

  OnigLibrary lib{};
  Bind(handle, "onig_version", library, lib.version);
  // The struct layouts this code reads (OnigRegion, OnigErrorInfo) and the constants it passes are
  // those of oniguruma.h's major version; another major version may change them.
  const std::string version = lib.version();
  const std::string major = std::to_string(ONIGURUMA_VERSION_MAJOR);
  if (version.compare(0, major.size() + 1, major + ".") != 0) {
    throw std::runtime_error("The Oniguruma library " + library + " is version " + version + ", but the addon was built for version " +
                             major + ".x. " + kInstallHint);
  }
  Bind(handle, "onig_initialize", library, lib.initialize);
  Bind(handle, "onig_error_code_to_str", library, lib.error_code_to_str);
  Bind(handle, "onig_new", library, lib.new_regex);
  Bind(handle, "onig_free", library, lib.free_regex);
  Bind(handle, "onig_search", library, lib.search);
  Bind(handle, "onig_region_new", library, lib.region_new);
  Bind(handle, "onig_region_clear", library, lib.region_clear);
  Bind(handle, "onig_region_free", library, lib.region_free);
  lib.utf8 = static_cast<OnigEncoding>(Resolve(handle, "OnigEncodingUTF8", library));
  // OnigDefaultSyntax is a pointer variable (to OnigSyntaxOniguruma unless changed): the onig
  // crate, and so tokenizers, compiles with whatever it points to.
  lib.default_syntax = *static_cast<OnigSyntaxType**>(Resolve(handle, "OnigDefaultSyntax", library));

  OnigEncoding encodings[] = {lib.utf8};
  const int r = lib.initialize(encodings, 1);
  if (r != ONIG_NORMAL) {
    OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
    const int n = lib.error_code_to_str(message, r);
    throw std::runtime_error("Oniguruma failed to initialize: " +
                             std::string(reinterpret_cast<const char*>(message), n > 0 ? static_cast<size_t>(n) : 0));
  }
  return lib;
}

}  // namespace

const OnigLibrary& Onig() {
  // A function-local static is initialized once, thread-safely; when Load() throws, the next call
  // tries again, so the failure is remembered explicitly to report the same error every time
  // without retrying dlopen on every regex.
  struct Loaded {
    OnigLibrary lib{};
    std::string error;
  };
  static const Loaded loaded = [] {
    Loaded l;
    try {
      l.lib = Load();
    } catch (const std::runtime_error& e) {
      l.error = e.what();
    }
    return l;
  }();
  if (!loaded.error.empty()) throw std::runtime_error(loaded.error);
  return loaded.lib;
}

}  // namespace tce::tok
