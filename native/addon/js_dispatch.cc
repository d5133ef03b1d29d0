#include "addon/js_dispatch.h"

#include "addon/bindings.h"

namespace tce {

std::shared_ptr<JsDispatcher> JsDispatcher::Create(Napi::Env env, const char* name) {
  auto liveness = std::make_shared<Liveness>();
  auto tsfn = Tsfn::New(env, name, 0, 1, static_cast<std::nullptr_t*>(nullptr), Finalize,
                        new std::shared_ptr<Liveness>(liveness));
  return std::shared_ptr<JsDispatcher>(new JsDispatcher(tsfn, std::move(liveness)));
}

void JsDispatcher::Finalize(Napi::Env, std::shared_ptr<Liveness>* liveness, std::nullptr_t*) {
  {
    // Waits for a Post() in progress on another thread to return first.
    std::lock_guard<std::mutex> lock((*liveness)->mutex);
    (*liveness)->alive = false;
  }
  delete liveness;
}

JsDispatcher::~JsDispatcher() {
  std::lock_guard<std::mutex> lock(liveness_->mutex);
  if (liveness_->alive) tsfn_.Release();
}

// No exception may leave a task. When a worker is terminated, Node stops it from running
// JavaScript (can_call_into_js) before it finalizes the thread-safe functions, and the event loop
// still delivers tasks that were queued in that window with a live `env`. Every Node-API call of
// such a task that touches JavaScript (creating the scores' Float32Array, resolving or rejecting
// the promise, building the error) then fails, node-addon-api turns the failure into a
// Napi::Error, and an exception that escaped here reached node-addon-api's callback wrapper,
// whose attempt to rethrow it as a JavaScript exception fails the same way and throws again,
// out of Node's event loop: std::terminate, SIGABRT (a call settling just as its worker ended;
// test/worker-teardown.models.test.ts). A task that cannot run JavaScript has nobody left to
// tell, so it is dropped; in a live environment the tasks report their own errors (Resolve
// rejects the promise).
void JsDispatcher::CallTask(Napi::Env env, Napi::Function, std::nullptr_t*, Task* task) {
  std::unique_ptr<Task> owned(task);
  if (env == nullptr || !*owned) return;
  try {
    (*owned)(env);
  } catch (...) {
  }
}

bool JsDispatcher::Post(Task task) {
  auto* heap = new Task(std::move(task));
  std::lock_guard<std::mutex> lock(liveness_->mutex);
  // The queue is unbounded, so BlockingCall never waits for room while holding the lock.
  if (!liveness_->alive || tsfn_.BlockingCall(heap) != napi_ok) {
    delete heap;
    return false;
  }
  return true;
}

void PendingPromise::Resolve(std::function<Napi::Value(Napi::Env)> make) {
  auto deferred = deferred_;
  dispatcher_->Post([deferred, make = std::move(make)](Napi::Env env) {
    Napi::HandleScope scope(env);
    try {
      deferred->Resolve(make(env));
    } catch (const Napi::Error& e) {
      deferred->Reject(e.Value());
    } catch (const std::exception& e) {
      deferred->Reject(MakeCodedError(env, e.what(), "TCE_INTERNAL").Value());
    }
  });
}

void PendingPromise::Reject(std::string message, std::string code) {
  auto deferred = deferred_;
  dispatcher_->Post([deferred, message = std::move(message), code = std::move(code)](Napi::Env env) {
    Napi::HandleScope scope(env);
    deferred->Reject(MakeCodedError(env, message, code.c_str()).Value());
  });
}

}  // namespace tce
