// Entry point of the addon. It is context-aware (no per-process JS state), so it also loads in
// worker_threads.
#include <napi.h>

#include "addon/bindings.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tce::InitRuntime(env, exports);
  tce::InitTokenizer(env, exports);
  tce::InitModel(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tce, Init)
