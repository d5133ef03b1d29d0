// Posts closures from native threads to the JavaScript thread of one environment.
//
// One dispatcher lives for the length of one asynchronous call: it holds a reference on the event
// loop while the call is pending (so a script waiting on it does not exit) and drops it when the
// call settles (so a loaded but idle model never keeps the process alive).
//
// The environment can go away first (a worker thread terminated while an engine thread still
// works for it). Node then finalizes the thread-safe function, and on Node 20 frees it even
// though native threads still hold it; the dispatcher learns of that through the finalizer and
// never touches the function again.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>

namespace tce {

class JsDispatcher {
 public:
  using Task = std::function<void(Napi::Env)>;

  static std::shared_ptr<JsDispatcher> Create(Napi::Env env, const char* name);
  ~JsDispatcher();

  // Queues `task` to run on the JS thread. Returns false when the environment is shutting down,
  // in which case the task is dropped (its captures are destroyed on the calling thread).
  bool Post(Task task);

  JsDispatcher(const JsDispatcher&) = delete;
  JsDispatcher& operator=(const JsDispatcher&) = delete;

 private:
  // Shared with the thread-safe function's finalizer, which may outlive or predate us.
  struct Liveness {
    std::mutex mutex;
    bool alive = true;
  };
  static void CallTask(Napi::Env env, Napi::Function, std::nullptr_t*, Task* task);
  static void Finalize(Napi::Env, std::shared_ptr<Liveness>* liveness, std::nullptr_t*);
  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Task, CallTask>;
  JsDispatcher(Tsfn tsfn, std::shared_ptr<Liveness> liveness)
      : tsfn_(tsfn), liveness_(std::move(liveness)) {}
  Tsfn tsfn_;
  std::shared_ptr<Liveness> liveness_;
};

// A Promise whose settlement comes from another thread.
class PendingPromise {
 public:
  explicit PendingPromise(Napi::Env env, const char* name = "torch-cross-encoder")
      : deferred_(std::make_shared<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env))),
        dispatcher_(JsDispatcher::Create(env, name)) {}

  Napi::Promise Promise() const { return deferred_->Promise(); }

  // `make` builds the resolution value on the JS thread.
  void Resolve(std::function<Napi::Value(Napi::Env)> make);
  // Rejects with an Error whose message is `message` and whose `code` is `code`.
  void Reject(std::string message, std::string code);

  const std::shared_ptr<JsDispatcher>& dispatcher() const { return dispatcher_; }

 private:
  std::shared_ptr<Napi::Promise::Deferred> deferred_;
  std::shared_ptr<JsDispatcher> dispatcher_;
};

}  // namespace tce
