#include "addon/js_values.h"

namespace tce {

std::string ReadString(Napi::Env env, const Napi::Value& value, const std::string& what) {
  if (!value.IsString()) ThrowCoded(env, what + " must be a string", "TCE_INVALID_OPTION");
  return value.As<Napi::String>().Utf8Value();
}

bool ReadBool(Napi::Env env, const Napi::Value& value, const std::string& what) {
  if (!value.IsBoolean()) ThrowCoded(env, what + " must be a boolean", "TCE_INVALID_OPTION");
  return value.As<Napi::Boolean>().Value();
}

double ReadNumber(Napi::Env env, const Napi::Value& value, const std::string& what) {
  if (!value.IsNumber()) ThrowCoded(env, what + " must be a number", "TCE_INVALID_OPTION");
  return value.As<Napi::Number>().DoubleValue();
}

void AppendStrings(Napi::Env env, const Napi::Value& value, const std::string& what,
                   std::vector<std::string>& out) {
  if (!value.IsArray()) ThrowCoded(env, what + " must be an array", "TCE_INVALID_INPUT");
  Napi::Array array = value.As<Napi::Array>();
  const uint32_t n = array.Length();
  out.reserve(out.size() + n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) {
      ThrowCoded(env, what + "[" + std::to_string(i) + "] must be a string", "TCE_INVALID_INPUT");
    }
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
}

}  // namespace tce
