#include "addon/text_buffer.h"

#include <algorithm>
#include <utility>

#include "addon/addon_data.h"
#include "addon/js_values.h"

namespace tce {

bool Texts::all_pairs() const {
  return std::all_of(has_b.begin(), has_b.end(), [](char c) { return c != 0; });
}

namespace {

class TextBuffer : public Napi::ObjectWrap<TextBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TextBuffer",
                       {InstanceMethod<&TextBuffer::Add>("add"),
                        InstanceAccessor<&TextBuffer::Size>("size")});
  }

  explicit TextBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TextBuffer>(info) {}

  Texts Take() { return std::exchange(texts_, Texts{}); }

 private:
  // add(a: string[], b: Array<string | null> | null): appends texts (and their pairs).
  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const size_t start = texts_.a.size();
    // On an error the buffer is left as it was: a call is built from whole chunks only.
    try {
      AppendStrings(env, info[0], "texts", texts_.a);
      const size_t n = texts_.a.size() - start;
      texts_.b.resize(start + n);
      texts_.has_b.resize(start + n, 0);
      if (!info[1].IsNull() && !info[1].IsUndefined()) {
        if (!info[1].IsArray()) ThrowCoded(env, "pairs must be an array or null", "TCE_INVALID_INPUT");
        Napi::Array b = info[1].As<Napi::Array>();
        if (b.Length() != n) ThrowCoded(env, "texts and pairs differ in length", "TCE_INVALID_INPUT");
        for (uint32_t i = 0; i < n; ++i) {
          Napi::Value v = b.Get(i);
          if (v.IsNull() || v.IsUndefined()) continue;
          if (!v.IsString()) {
            ThrowCoded(env, "pairs[" + std::to_string(i) + "] must be a string or null",
                       "TCE_INVALID_INPUT");
          }
          texts_.b[start + i] = v.As<Napi::String>().Utf8Value();
          texts_.has_b[start + i] = 1;
        }
      }
    } catch (...) {
      texts_.a.resize(start);
      texts_.b.resize(start);
      texts_.has_b.resize(start);
      throw;
    }
    return env.Undefined();
  }

  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(texts_.a.size()));
  }

  Texts texts_;
};

}  // namespace

void InitTextBuffer(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = TextBuffer::Define(env);
  AddonData::Of(env).text_buffer_constructor = Napi::Persistent(ctor);
  exports.Set("TextBuffer", ctor);
}

Texts TakeTexts(Napi::Env env, const Napi::Value& buffer) {
  AddonData& data = AddonData::Of(env);
  if (!buffer.IsObject() || data.text_buffer_constructor.IsEmpty() ||
      !buffer.As<Napi::Object>().InstanceOf(data.text_buffer_constructor.Value())) {
    ThrowCoded(env, "expected a TextBuffer", "TCE_INTERNAL");
  }
  return TextBuffer::Unwrap(buffer.As<Napi::Object>())->Take();
}

}  // namespace tce
