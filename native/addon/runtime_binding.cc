// JS bindings for loading the torch core and asking it about the machine.
#include <napi.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "addon/bindings.h"
#include "addon/core_loader.h"

namespace tce {

namespace {

const CoreApi& RequireCore(Napi::Env env) {
  const CoreApi* core = LoadedCore();
  if (core == nullptr) {
    throw MakeCodedError(env, "The torch core is not loaded yet (call loadCore first).", "TCE_INTERNAL");
  }
  return *core;
}

// libtorch's OpenMP runtime (libgomp in pip and Debian builds; Intel's libiomp5 reads the same
// variable) reads its wait policy once, when libtorch's dlopen() loads it. By default each idle
// worker spins for a while after every parallel region; a forward runs hundreds of short regions,
// so beside another busy process those spinning workers take turns on the cores with the very
// thread each region waits for, and single-pair latency grows several-fold (README, "CPU: threads
// and bf16").
// PASSIVE puts idle workers to sleep at once. Called on the JS thread before the load starts, and
// only while no core is loaded: a variable the user set (or GOMP_SPINCOUNT / KMP_BLOCKTIME, the
// runtimes' finer knobs) wins.
void DefaultOpenMpWaitPolicy() {
  if (LoadedCore() != nullptr) return;
  for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"}) {
    if (std::getenv(name) != nullptr) return;
  }
  setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
}

struct LoadRequest {
  std::vector<std::string> libraries;
  std::string core_path;
};

LoadRequest ReadLoadArguments(const Napi::CallbackInfo& info, const char* name) {
  Napi::Env env = info.Env();
  const std::string usage = std::string(name) + "(libraries: string[], corePath: string)";
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsString()) {
    throw MakeCodedError(env, usage, "TCE_INTERNAL");
  }
  LoadRequest request;
  Napi::Array list = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsString()) throw MakeCodedError(env, usage + ": libraries must be strings", "TCE_INTERNAL");
    request.libraries.push_back(item.As<Napi::String>().Utf8Value());
  }
  request.core_path = info[1].As<Napi::String>().Utf8Value();
  return request;
}

Napi::Object LoadResult(Napi::Env env, const CoreApi& core) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("torchVersion", core.core_torch_version());
  return result;
}

// loadCore(libraries: string[], corePath: string) -> { torchVersion }, on the calling thread.
Napi::Value LoadCoreJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const LoadRequest request = ReadLoadArguments(info, "loadCore");
  DefaultOpenMpWaitPolicy();
  try {
    return LoadResult(env, LoadCore(request.libraries, request.core_path));
  } catch (const std::exception& e) {
    throw MakeCodedError(env, e.what(), "TCE_CORE_LOAD_FAILED");
  }
}

// loadCoreAsync(libraries, corePath) -> Promise<{ torchVersion }>: the same on a worker thread,
// because dlopen() of libtorch (hundreds of MB, static initialisers) takes most of a second and
// CrossEncoder.load() must not hold the event loop for it. LoadCore is serialised by a mutex.
class LoadCoreWorker : public Napi::AsyncWorker {
 public:
  LoadCoreWorker(Napi::Env env, LoadRequest request)
      : Napi::AsyncWorker(env, "tce:loadCore"), request_(std::move(request)), deferred_(env) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      core_ = &LoadCore(request_.libraries, request_.core_path);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override { deferred_.Resolve(LoadResult(Env(), *core_)); }

  void OnError(const Napi::Error& error) override {
    deferred_.Reject(MakeCodedError(Env(), error.Message(), "TCE_CORE_LOAD_FAILED").Value());
  }

 private:
  LoadRequest request_;
  Napi::Promise::Deferred deferred_;
  const CoreApi* core_ = nullptr;
};

Napi::Value LoadCoreAsyncJs(const Napi::CallbackInfo& info) {
  LoadRequest request = ReadLoadArguments(info, "loadCoreAsync");
  DefaultOpenMpWaitPolicy();
  auto* worker = new LoadCoreWorker(info.Env(), std::move(request));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
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
  exports.Set("loadCoreAsync", Napi::Function::New(env, LoadCoreAsyncJs, "loadCoreAsync"));
  // The C API version this addon speaks (tce_core.h): lib/core.ts compares it with core.json's
  // before dlopen(), so that a core of another package version is refused with a clear message.
  exports.Set("coreAbi", Napi::Number::New(env, TCE_CORE_ABI));
  exports.Set("cudaDevices", Napi::Function::New(env, CudaDevicesJs, "cudaDevices"));
  exports.Set("numThreads", Napi::Function::New(env, NumThreadsJs, "numThreads"));
  exports.Set("quiesce", Napi::Function::New(env, QuiesceJs, "quiesce"));
}

}  // namespace tce
