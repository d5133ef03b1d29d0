#include "addon/js_dispatch.h"

namespace tce {

std::shared_ptr<JsDispatcher> JsDispatcher::Create(Napi::Env env, const char* name) {
  auto tsfn = Tsfn::New(env, name, 0, 1);
  return std::shared_ptr<JsDispatcher>(new JsDispatcher(tsfn));
}

JsDispatcher::~JsDispatcher() { tsfn_.Release(); }

void JsDispatcher::CallTask(Napi::Env env, Napi::Function, std::nullptr_t*, Task* task) {
  std::unique_ptr<Task> owned(task);
  if (env != nullptr && *owned) (*owned)(env);
}

bool JsDispatcher::Post(Task task) {
  auto* heap = new Task(std::move(task));
  if (tsfn_.BlockingCall(heap) != napi_ok) {
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
      deferred->Reject(MakeError(env, e.what()).Value());
    }
  });
}

void PendingPromise::Reject(std::string message, std::string code) {
  auto deferred = deferred_;
  dispatcher_->Post([deferred, message = std::move(message), code = std::move(code)](Napi::Env env) {
    Napi::HandleScope scope(env);
    deferred->Reject(MakeError(env, message, code).Value());
  });
}

Napi::Error MakeError(Napi::Env env, const std::string& message, const std::string& code) {
  Napi::Error error = Napi::Error::New(env, message);
  if (!code.empty()) error.Set("code", Napi::String::New(env, code));
  return error;
}

}  // namespace tce
