// JS class Model: new Model(tokenizer, options); load(); predict(a, b, options); dispose().
// Long work runs on the model's executor thread (engine/model_runner.h); results come back
// through a per-call dispatcher, so an idle model never keeps the event loop alive.
#include <napi.h>

#include <memory>

#include "addon/bindings.h"
#include "addon/core_loader.h"
#include "addon/js_dispatch.h"
#include "addon/tokenizer_binding.h"
#include "engine/model_runner.h"

namespace tce {

namespace {

std::string StringProperty(const Napi::Object& object, const char* key) {
  Napi::Value value = object.Get(key);
  if (!value.IsString()) {
    throw Napi::TypeError::New(object.Env(), std::string("options.") + key + " must be a string");
  }
  return value.As<Napi::String>().Utf8Value();
}

double NumberProperty(const Napi::Object& object, const char* key) {
  Napi::Value value = object.Get(key);
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(object.Env(), std::string("options.") + key + " must be a number");
  }
  return value.As<Napi::Number>().DoubleValue();
}

size_t PositiveProperty(const Napi::Object& object, const char* key) {
  const double value = NumberProperty(object, key);
  if (!(value >= 1) || value > 1e12) {
    throw Napi::RangeError::New(object.Env(), std::string("options.") + key + " must be a positive integer");
  }
  return static_cast<size_t>(value);
}

std::vector<std::string> StringArray(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string(name) + " must be an array");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) {
      throw Napi::TypeError::New(env, std::string(name) + "[" + std::to_string(i) + "] must be a string");
    }
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model",
                       {InstanceMethod<&Model::Load>("load"),
                        InstanceMethod<&Model::Predict>("predict"),
                        InstanceMethod<&Model::Dispose>("dispose"),
                        InstanceMethod<&Model::Stats>("stats")});
  }

  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
    Napi::Env env = info.Env();
    const CoreApi* core = LoadedCore();
    if (core == nullptr) throw Napi::Error::New(env, "The torch core is not loaded (load it first).");
    if (info.Length() < 2 || !info[1].IsObject()) {
      throw Napi::TypeError::New(env, "new Model(tokenizer, options)");
    }
    auto tokenizer = UnwrapTokenizer(env, info[0]);
    Napi::Object options = info[1].As<Napi::Object>();
    engine::ModelConfig config;
    config.path = StringProperty(options, "path");
    config.device = StringProperty(options, "device");
    config.precision = static_cast<int>(NumberProperty(options, "precision"));
    config.num_labels = PositiveProperty(options, "numLabels");
    config.max_length = PositiveProperty(options, "maxLength");
    config.share_batches = options.Get("shareBatches").ToBoolean().Value();
    config.max_wait_ms = NumberProperty(options, "maxWaitMs");
    config.cpu_threads = static_cast<int>(NumberProperty(options, "cpuThreads"));
    runner_ = std::make_unique<engine::ModelRunner>(*core, std::move(tokenizer), std::move(config));
    env_ = env;
    napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  }

  ~Model() override { napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this); }

 private:
  Napi::Value Load(const Napi::CallbackInfo& info) {
    auto pending = std::make_shared<PendingPromise>(info.Env(), "torch-cross-encoder:load");
    runner_->Load([pending](std::string error) {
      if (error.empty()) {
        pending->Resolve([](Napi::Env env) { return env.Undefined(); });
      } else {
        pending->Reject(std::move(error), "TCE_MODEL_LOAD_FAILED");
      }
    });
    return pending->Promise();
  }

  // predict(a: string[], b: string[], options) -> { promise, cancel }
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[2].IsObject()) {
      throw Napi::TypeError::New(env, "predict(a: string[], b: string[], options)");
    }
    auto job = std::make_shared<engine::PredictJob>();
    job->a = StringArray(env, info[0], "a");
    job->b = StringArray(env, info[1], "b");
    if (job->a.size() != job->b.size()) {
      throw Napi::RangeError::New(env, "predict: a and b must have the same length");
    }
    Napi::Object options = info[2].As<Napi::Object>();
    job->options.batch_size = PositiveProperty(options, "batchSize");
    job->options.max_batch_tokens = PositiveProperty(options, "maxBatchTokens");
    job->options.activation = static_cast<int>(NumberProperty(options, "activation"));
    job->options.apply_softmax = options.Get("applySoftmax").ToBoolean().Value();

    auto pending = std::make_shared<PendingPromise>(env, "torch-cross-encoder:predict");
    // The progress function is referenced from native code: the reference is created here and
    // deleted by a task posted after the call settles, so it is only ever touched on the JS
    // thread (an engine thread may drop the job, and with it these callbacks, at any time).
    Napi::FunctionReference* progress = nullptr;
    Napi::Value on_progress = options.Get("onProgress");
    if (on_progress.IsFunction()) {
      progress = new Napi::FunctionReference(Napi::Persistent(on_progress.As<Napi::Function>()));
      auto dispatcher = pending->dispatcher();
      job->callbacks.progress = [dispatcher, progress](size_t done, size_t total) {
        dispatcher->Post([progress, done, total](Napi::Env env) {
          Napi::HandleScope scope(env);
          // A throwing progress callback must not take the call down with it.
          try {
            progress->Call({Napi::Number::New(env, static_cast<double>(done)),
                            Napi::Number::New(env, static_cast<double>(total))});
          } catch (const Napi::Error&) {
          }
        });
      };
    }
    // Runs after the settling task (tasks run in order); if the environment is gone, the
    // reference goes with it.
    auto release_progress = [pending, progress] {
      if (progress != nullptr) pending->dispatcher()->Post([progress](Napi::Env) { delete progress; });
    };
    job->callbacks.done = [pending, release_progress](std::vector<float> scores, size_t) {
      auto shared = std::make_shared<std::vector<float>>(std::move(scores));
      pending->Resolve([shared](Napi::Env env) -> Napi::Value {
        auto array = Napi::Float32Array::New(env, shared->size());
        std::copy(shared->begin(), shared->end(), array.Data());
        return array;
      });
      release_progress();
    };
    job->callbacks.failed = [pending, release_progress](std::string message, std::string code) {
      pending->Reject(std::move(message), std::move(code));
      release_progress();
    };

    Napi::Object call = Napi::Object::New(env);
    call.Set("promise", pending->Promise());
    std::weak_ptr<engine::PredictJob> weak = job;
    call.Set("cancel", Napi::Function::New(env, [weak](const Napi::CallbackInfo&) {
               if (auto j = weak.lock()) engine::ModelRunner::Cancel(*j);
             }));
    runner_->Submit(std::move(job));
    return call;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    auto pending = std::make_shared<PendingPromise>(info.Env(), "torch-cross-encoder:dispose");
    runner_->Dispose([pending] { pending->Resolve([](Napi::Env env) { return env.Undefined(); }); });
    return pending->Promise();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    const engine::ModelStats stats = runner_->Stats();
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("forwards", static_cast<double>(stats.forwards));
    out.Set("pairs", static_cast<double>(stats.pairs));
    out.Set("tokens", static_cast<double>(stats.tokens));
    out.Set("paddedTokens", static_cast<double>(stats.padded_tokens));
    out.Set("sharedForwards", static_cast<double>(stats.shared_forwards));
    out.Set("forwardMs", stats.forward_ms);
    return out;
  }

  // The environment ends (a worker terminated): stop the model's remaining work.
  static void OnEnvCleanup(void* self) { static_cast<Model*>(self)->runner_->Abandon(); }

  std::unique_ptr<engine::ModelRunner> runner_;
  napi_env env_ = nullptr;
};

}  // namespace

void InitModel(Napi::Env env, Napi::Object exports) { exports.Set("Model", Model::Define(env)); }

}  // namespace tce
