// Entry point of the addon. It is context-aware (no per-process JS state), so it also loads in
// worker_threads.
#include <napi.h>

#include "addon/bindings.h"
#include "addon/text_buffer.h"
#include "core/tce_core.h"

namespace {

// The precision and activation codes of the core's C API, so that lib/ takes them from the one
// definition in tce_core.h instead of repeating the numbers.
Napi::Object Codes(Napi::Env env) {
  Napi::Object precision = Napi::Object::New(env);
  precision.Set("fp32", TCE_PRECISION_FP32);
  precision.Set("fp16", TCE_PRECISION_FP16);
  precision.Set("bf16", TCE_PRECISION_BF16);
  Napi::Object activation = Napi::Object::New(env);
  activation.Set("identity", TCE_ACTIVATION_IDENTITY);
  activation.Set("sigmoid", TCE_ACTIVATION_SIGMOID);
  activation.Set("tanh", TCE_ACTIVATION_TANH);
  activation.Set("softmax", TCE_ACTIVATION_SOFTMAX);
  Napi::Object codes = Napi::Object::New(env);
  codes.Set("precision", precision);
  codes.Set("activation", activation);
  return codes;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tce::InitRuntime(env, exports);
  tce::InitTokenizer(env, exports);
  tce::InitModel(env, exports);
  tce::InitTextBuffer(env, exports);
  exports.Set("codes", Codes(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(tce, Init)
