// JS class Model: new Model(tokenizer, options); load(); predict(texts, options); dispose(abort).
// Long work runs on the model's executor thread (engine/model_runner.h); results come back
// through a per-call dispatcher, so an idle model never keeps the event loop alive.
#include <napi.h>

#include <memory>

#include "addon/bindings.h"
#include "addon/core_loader.h"
#include "addon/js_dispatch.h"
#include "addon/js_values.h"
#include "addon/text_buffer.h"
#include "addon/tokenizer_binding.h"
#include "engine/model_runner.h"

namespace tce {

namespace {

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
    if (core == nullptr) ThrowCoded(env, "The torch core is not loaded (load it first).", "TCE_INTERNAL");
    if (info.Length() < 2 || !info[1].IsObject()) {
      ThrowCoded(env, "new Model(tokenizer, options)", "TCE_INTERNAL");
    }
    auto tokenizer = UnwrapTokenizer(env, info[0]);
    Napi::Object options = info[1].As<Napi::Object>();
    engine::ModelConfig config;
    config.path = ReadString(env, options.Get("path"), "options.path");
    config.device = ReadString(env, options.Get("device"), "options.device");
    config.precision = ReadInteger<int>(env, options.Get("precision"), "options.precision");
    config.num_labels = ReadInteger<size_t>(env, options.Get("numLabels"), "options.numLabels", 1);
    config.max_length = ReadInteger<size_t>(env, options.Get("maxLength"), "options.maxLength", 1);
    config.share_batches = ReadBool(env, options.Get("shareBatches"), "options.shareBatches");
    config.max_wait_ms = ReadNumber(env, options.Get("maxWaitMs"), "options.maxWaitMs");
    if (!(config.max_wait_ms >= 0 && config.max_wait_ms <= 3.6e6)) {
      ThrowCoded(env, "options.maxWaitMs must be from 0 to 3600000", "TCE_INVALID_OPTION");
    }
    config.cpu_threads = ReadInteger<int>(env, options.Get("cpuThreads"), "options.cpuThreads");
    config.tf32 = ReadBool(env, options.Get("tf32"), "options.tf32");
    ClaimTf32(env, *core, config);
    try {
      runner_ = std::make_unique<engine::ModelRunner>(*core, std::move(tokenizer), config);
    } catch (...) {
      core->tf32_release(config.device.c_str(), config.precision, config.tf32 ? 1 : 0);
      throw;
    }
    env_ = env;
    napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  }

  ~Model() override { napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this); }

 private:
  // libtorch's TF32 switch is process-wide: a CUDA fp32 model whose setting differs from the
  // loaded ones' is refused here, before anything is loaded (the runner gives the claim back).
  static void ClaimTf32(Napi::Env env, const CoreApi& core, const engine::ModelConfig& config) {
    char err[1024] = {0};
    const int status = core.tf32_claim(config.device.c_str(), config.precision, config.tf32 ? 1 : 0,
                                       err, sizeof err);
    if (status == TCE_OPTION_CONFLICT) ThrowCoded(env, err, "TCE_INVALID_OPTION");
    if (status != TCE_OK) ThrowCoded(env, err[0] ? err : "tf32 claim failed", "TCE_INTERNAL");
  }

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

  // predict(texts: TextBuffer, options) -> { promise, cancel }. The buffer holds every pair of
  // the call (lib/ fills it in chunks) and is left empty.
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[1].IsObject()) {
      ThrowCoded(env, "predict(texts: TextBuffer, options)", "TCE_INTERNAL");
    }
    Napi::Object options = info[1].As<Napi::Object>();
    auto job = std::make_shared<engine::PredictJob>();
    job->options.batch_size = ReadInteger<size_t>(env, options.Get("batchSize"), "batchSize", 1);
    job->options.max_batch_tokens =
        ReadInteger<size_t>(env, options.Get("maxBatchTokens"), "maxBatchTokens", 1);
    job->options.activation = ReadInteger<int>(env, options.Get("activation"), "activation");
    job->options.apply_softmax = ReadBool(env, options.Get("applySoftmax"), "applySoftmax");
    Napi::Value on_progress = options.Get("onProgress");
    if (!on_progress.IsUndefined() && !on_progress.IsFunction()) {
      ThrowCoded(env, "onProgress must be a function", "TCE_INVALID_OPTION");
    }
    ReadRendered(env, options.Get("renderedSuffix"), *job);
    // Taken last: once the texts are moved out of the buffer nothing above can throw.
    Texts texts = TakeTexts(env, info[0]);
    if (!job->rendered && !texts.all_pairs()) ThrowCoded(env, "predict: every text needs a pair", "TCE_INTERNAL");
    job->a = std::move(texts.a);
    if (!job->rendered) job->b = std::move(texts.b);

    auto pending = std::make_shared<PendingPromise>(env, "torch-cross-encoder:predict");
    // The progress function is referenced from native code: the reference is created here and
    // deleted by a task posted after the call settles, so it is only ever touched on the JS
    // thread (an engine thread may drop the job, and with it these callbacks, at any time).
    Napi::FunctionReference* progress = nullptr;
    if (on_progress.IsFunction()) {
      progress = new Napi::FunctionReference(Napi::Persistent(on_progress.As<Napi::Function>()));
      auto dispatcher = pending->dispatcher();
      job->callbacks.progress = [dispatcher, progress](size_t done, size_t total) {
        dispatcher->Post([progress, done, total](Napi::Env env) {
          Napi::HandleScope scope(env);
          // lib/cross-encoder.ts wraps the caller's callback so that it never throws: a throw
          // there rejects the call. Should one still escape, it must not unwind into libuv.
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

  // options.renderedSuffix: an Int32Array when the texts are rendered conversations
  // (engine/rendered_input.h), the token ids a truncated row must end with; absent for pairs.
  static void ReadRendered(Napi::Env env, const Napi::Value& value, engine::PredictJob& job) {
    if (value.IsUndefined()) return;
    if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      ThrowCoded(env, "renderedSuffix must be an Int32Array", "TCE_INTERNAL");
    }
    Napi::Int32Array ids = value.As<Napi::Int32Array>();
    job.rendered = true;
    job.restore_suffix.assign(ids.Data(), ids.Data() + ids.ElementLength());
  }

  // dispose(abort: boolean)
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    const bool abort = ReadBool(info.Env(), info[0], "abort");
    auto pending = std::make_shared<PendingPromise>(info.Env(), "torch-cross-encoder:dispose");
    runner_->Dispose(abort, [pending] { pending->Resolve([](Napi::Env env) { return env.Undefined(); }); });
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
    out.Set("overlappedForwards", static_cast<double>(stats.overlapped_forwards));
    out.Set("forwardMs", stats.forward_ms);
    out.Set("waitMs", stats.wait_ms);
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
