// JS bindings for loading the torch core and asking it about the machine.
#include <napi.h>

#include "addon/bindings.h"
#include "addon/core_loader.h"

namespace tce {

namespace {

const CoreApi& RequireCore(Napi::Env env) {
  const CoreApi* core = LoadedCore();
  if (core == nullptr) {
    throw Napi::Error::New(env, "The torch core is not loaded yet (call loadCore first).");
  }
  return *core;
}

// loadCore(libraries: string[], corePath: string) -> { torchVersion }
Napi::Value LoadCoreJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsString()) {
    throw Napi::TypeError::New(env, "loadCore(libraries: string[], corePath: string)");
  }
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<std::string> libraries;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsString()) throw Napi::TypeError::New(env, "loadCore: libraries must be strings");
    libraries.push_back(item.As<Napi::String>().Utf8Value());
  }
  const CoreApi* core = nullptr;
  try {
    core = &LoadCore(libraries, info[1].As<Napi::String>().Utf8Value());
  } catch (const std::exception& e) {
    throw MakeCodedError(env, e.what(), "TCE_CORE_LOAD_FAILED");
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("torchVersion", core->core_torch_version());
  return result;
}

Napi::Value CoreLoadedJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (LoadedCore() == nullptr) return env.Null();
  return Napi::String::New(env, LoadedCorePath());
}

// cudaDevices() -> [{ index, name, totalMemory, freeMemory }]
Napi::Value CudaDevicesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CoreApi& core = RequireCore(env);
  const int count = core.cuda_device_count();
  Napi::Array devices = Napi::Array::New(env, count < 0 ? 0 : count);
  for (int i = 0; i < count; ++i) {
    char name[256] = {0};
    char err[512] = {0};
    uint64_t total = 0, free_bytes = 0;
    Napi::Object device = Napi::Object::New(env);
    device.Set("index", i);
    if (core.cuda_device_info(i, name, sizeof name, &total, &free_bytes, err, sizeof err) ==
        TCE_OK) {
      device.Set("name", name);
      device.Set("totalMemory", static_cast<double>(total));
      if (free_bytes != UINT64_MAX) device.Set("freeMemory", static_cast<double>(free_bytes));
    } else {
      device.Set("name", std::string("unknown (") + err + ")");
    }
    devices.Set(i, device);
  }
  return devices;
}

Napi::Value NumThreadsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CoreApi& core = RequireCore(env);
  if (info.Length() > 0 && info[0].IsNumber()) {
    core.set_num_threads(info[0].As<Napi::Number>().Int32Value());
  }
  return Napi::Number::New(env, core.get_num_threads());
}

// quiesce(): at process exit, park model threads before libtorch's destructors run.
Napi::Value QuiesceJs(const Napi::CallbackInfo& info) {
  if (LoadedCore() != nullptr) QuiesceCore(10000);
  return info.Env().Undefined();
}

}  // namespace

Napi::Error MakeCodedError(Napi::Env env, const std::string& message, const char* code) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("loadCore", Napi::Function::New(env, LoadCoreJs, "loadCore"));
  exports.Set("loadedCore", Napi::Function::New(env, CoreLoadedJs, "loadedCore"));
  exports.Set("cudaDevices", Napi::Function::New(env, CudaDevicesJs, "cudaDevices"));
  exports.Set("numThreads", Napi::Function::New(env, NumThreadsJs, "numThreads"));
  exports.Set("quiesce", Napi::Function::New(env, QuiesceJs, "quiesce"));
}

}  // namespace tce
