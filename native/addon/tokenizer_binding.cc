// The JS `Tokenizer` class: a thin wrapper over a shared, immutable tok::Tokenizer.
// encode() runs on the JS thread (a single text is cheap); encodeBatch() copies its strings on
// the JS thread, tokenizes on the thread pool off the event loop, and builds the JS results
// when it is done.
#include "addon/tokenizer_binding.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "addon/addon_data.h"
#include "addon/bindings.h"
#include "addon/thread_pool.h"

namespace tce {

namespace {

std::string ReadString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) {
    throw Napi::TypeError::New(o.Env(), std::string("tokenizer spec: \"") + key +
                                            "\" must be a string");
  }
  return v.As<Napi::String>().Utf8Value();
}

bool ReadBool(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) {
    throw Napi::TypeError::New(o.Env(), std::string("tokenizer spec: \"") + key +
                                            "\" must be a boolean");
  }
  return v.As<Napi::Boolean>().Value();
}

double ReadCount(Napi::Env env, Napi::Value v, const std::string& what, double max) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > max || std::floor(d) != d) {
    throw Napi::RangeError::New(env, what + " must be a non-negative integer");
  }
  return d;
}

tok::TokenizerSpec ReadSpec(Napi::Env env, Napi::Value value) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, "tokenizer spec must be an object");
  Napi::Object o = value.As<Napi::Object>();
  tok::TokenizerSpec spec;
  Napi::Value vocab = o.Get("vocab");
  if (!vocab.IsArray()) throw Napi::TypeError::New(env, "tokenizer spec: \"vocab\" must be an array");
  Napi::Array arr = vocab.As<Napi::Array>();
  spec.vocab.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value t = arr.Get(i);
    if (!t.IsString()) {
      throw Napi::TypeError::New(env, "tokenizer spec: vocab[" + std::to_string(i) +
                                          "] must be a string");
    }
    spec.vocab.push_back(t.As<Napi::String>().Utf8Value());
  }
  spec.clean_text = ReadBool(o, "cleanText");
  spec.handle_chinese_chars = ReadBool(o, "handleChineseChars");
  spec.strip_accents = ReadBool(o, "stripAccents");
  spec.lowercase = ReadBool(o, "lowercase");
  spec.unk_token = ReadString(o, "unkToken");
  spec.cls_token = ReadString(o, "clsToken");
  spec.sep_token = ReadString(o, "sepToken");
  spec.pad_token = ReadString(o, "padToken");
  spec.continuing_subword_prefix = ReadString(o, "continuingSubwordPrefix");
  spec.max_input_chars_per_word = static_cast<size_t>(
      ReadCount(env, o.Get("maxInputCharsPerWord"), "tokenizer spec: \"maxInputCharsPerWord\"",
                1e15));
  Napi::Value added = o.Get("addedTokens");
  if (!added.IsArray()) {
    throw Napi::TypeError::New(env, "tokenizer spec: \"addedTokens\" must be an array");
  }
  Napi::Array list = added.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) {
      throw Napi::TypeError::New(env, "tokenizer spec: addedTokens[" + std::to_string(i) +
                                          "] must be an object");
    }
    Napi::Object t = item.As<Napi::Object>();
    tok::AddedToken token;
    token.content = ReadString(t, "content");
    token.id = static_cast<int32_t>(ReadCount(env, t.Get("id"),
                                              "tokenizer spec: addedTokens[" + std::to_string(i) +
                                                  "].id",
                                              2147483647.0));
    token.special = ReadBool(t, "special");
    token.normalized = ReadBool(t, "normalized");
    token.single_word = ReadBool(t, "singleWord");
    token.lstrip = ReadBool(t, "lstrip");
    token.rstrip = ReadBool(t, "rstrip");
    spec.added_tokens.push_back(std::move(token));
  }
  return spec;
}

Napi::Object ToJs(Napi::Env env, const tok::Encoding& e, bool with_tokens) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Int32Array ids = Napi::Int32Array::New(env, e.ids.size());
  if (!e.ids.empty()) std::memcpy(ids.Data(), e.ids.data(), e.ids.size() * sizeof(int32_t));
  Napi::Int32Array types = Napi::Int32Array::New(env, e.type_ids.size());
  if (!e.type_ids.empty()) {
    std::memcpy(types.Data(), e.type_ids.data(), e.type_ids.size() * sizeof(int32_t));
  }
  out.Set("ids", ids);
  out.Set("typeIds", types);
  if (with_tokens) {
    Napi::Array tokens = Napi::Array::New(env, e.tokens.size());
    for (size_t i = 0; i < e.tokens.size(); ++i) {
      tokens.Set(static_cast<uint32_t>(i), Napi::String::New(env, e.tokens[i]));
    }
    out.Set("tokens", tokens);
  }
  return out;
}

struct EncodeOptions {
  size_t max_length = 0;
  bool add_special_tokens = true;
  bool with_tokens = false;
};

EncodeOptions ReadOptions(const Napi::CallbackInfo& info, size_t first) {
  Napi::Env env = info.Env();
  EncodeOptions o;
  o.max_length = static_cast<size_t>(ReadCount(env, info[first], "maxLength", 9007199254740991.0));
  if (!info[first + 1].IsBoolean() || !info[first + 2].IsBoolean()) {
    throw Napi::TypeError::New(env, "addSpecialTokens and withTokens must be booleans");
  }
  o.add_special_tokens = info[first + 1].As<Napi::Boolean>().Value();
  o.with_tokens = info[first + 2].As<Napi::Boolean>().Value();
  return o;
}

class EncodeBatchWorker : public Napi::AsyncWorker {
 public:
  EncodeBatchWorker(Napi::Env env, std::shared_ptr<const tok::Tokenizer> tokenizer,
                    std::vector<std::string> a, std::vector<std::string> b,
                    std::vector<char> has_b, EncodeOptions options)
      : Napi::AsyncWorker(env, "tce:encodeBatch"),
        deferred_(Napi::Promise::Deferred::New(env)),
        tokenizer_(std::move(tokenizer)),
        a_(std::move(a)),
        b_(std::move(b)),
        has_b_(std::move(has_b)),
        options_(options) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      results_.resize(a_.size());
      ThreadPool::Shared().ParallelFor(a_.size(), 4, [this](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
          const std::string_view b = b_.empty() ? std::string_view() : std::string_view(b_[i]);
          results_[i] = tokenizer_->Encode(a_[i], has_b_.empty() || !has_b_[i] ? nullptr : &b,
                                           options_.max_length, options_.add_special_tokens,
                                           options_.with_tokens);
        }
      });
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array out = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); ++i) {
      out.Set(static_cast<uint32_t>(i), ToJs(env, results_[i], options_.with_tokens));
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<const tok::Tokenizer> tokenizer_;
  std::vector<std::string> a_, b_;
  std::vector<char> has_b_;
  EncodeOptions options_;
  std::vector<tok::Encoding> results_;
};

class TokenizerWrap : public Napi::ObjectWrap<TokenizerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Tokenizer",
                       {
                           InstanceMethod<&TokenizerWrap::Encode>("encode"),
                           InstanceMethod<&TokenizerWrap::EncodeBatch>("encodeBatch"),
                           InstanceAccessor<&TokenizerWrap::VocabSize>("vocabSize"),
                           InstanceAccessor<&TokenizerWrap::PadId>("padId"),
                       });
  }

  explicit TokenizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TokenizerWrap>(info) {
    Napi::Env env = info.Env();
    tok::TokenizerSpec spec = ReadSpec(env, info[0]);
    try {
      tokenizer_ = std::make_shared<const tok::Tokenizer>(std::move(spec));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("invalid tokenizer: ") + e.what());
    }
  }

  const std::shared_ptr<const tok::Tokenizer>& tokenizer() const { return tokenizer_; }

 private:
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "text must be a string");
    const bool pair = !info[1].IsNull() && !info[1].IsUndefined();
    if (pair && !info[1].IsString()) throw Napi::TypeError::New(env, "pair must be a string or null");
    const EncodeOptions o = ReadOptions(info, 2);
    const std::string a = info[0].As<Napi::String>().Utf8Value();
    const std::string b = pair ? info[1].As<Napi::String>().Utf8Value() : std::string();
    const std::string_view bv(b);
    const tok::Encoding e = tokenizer_->Encode(a, pair ? &bv : nullptr, o.max_length,
                                               o.add_special_tokens, o.with_tokens);
    return ToJs(env, e, o.with_tokens);
  }

  Napi::Value EncodeBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "texts must be an array");
    Napi::Array a = info[0].As<Napi::Array>();
    const uint32_t n = a.Length();
    const bool pairs = !info[1].IsNull() && !info[1].IsUndefined();
    if (pairs && !info[1].IsArray()) throw Napi::TypeError::New(env, "pairs must be an array or null");
    const EncodeOptions o = ReadOptions(info, 2);
    std::vector<std::string> av(n), bv;
    std::vector<char> has_b;
    for (uint32_t i = 0; i < n; ++i) {
      Napi::Value v = a.Get(i);
      if (!v.IsString()) {
        throw Napi::TypeError::New(env, "texts[" + std::to_string(i) + "] must be a string");
      }
      av[i] = v.As<Napi::String>().Utf8Value();
    }
    if (pairs) {
      Napi::Array b = info[1].As<Napi::Array>();
      if (b.Length() != n) throw Napi::RangeError::New(env, "texts and pairs differ in length");
      bv.resize(n);
      has_b.assign(n, 0);
      for (uint32_t i = 0; i < n; ++i) {
        Napi::Value v = b.Get(i);
        if (v.IsNull() || v.IsUndefined()) continue;
        if (!v.IsString()) {
          throw Napi::TypeError::New(env, "pairs[" + std::to_string(i) + "] must be a string or null");
        }
        bv[i] = v.As<Napi::String>().Utf8Value();
        has_b[i] = 1;
      }
    }
    auto* worker = new EncodeBatchWorker(env, tokenizer_, std::move(av), std::move(bv),
                                         std::move(has_b), o);
    Napi::Promise promise = worker->Promise();
    worker->Queue();  // the worker deletes itself once settled
    return promise;
  }

  Napi::Value VocabSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(tokenizer_->vocab_size()));
  }

  Napi::Value PadId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), tokenizer_->pad_id());
  }

  std::shared_ptr<const tok::Tokenizer> tokenizer_;
};

}  // namespace

void InitTokenizer(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = TokenizerWrap::Define(env);
  AddonData::Of(env).tokenizer_constructor = Napi::Persistent(ctor);
  exports.Set("Tokenizer", ctor);
}

std::shared_ptr<const tok::Tokenizer> UnwrapTokenizer(Napi::Env env, Napi::Value value) {
  AddonData& data = AddonData::Of(env);
  if (!value.IsObject() || data.tokenizer_constructor.IsEmpty() ||
      !value.As<Napi::Object>().InstanceOf(data.tokenizer_constructor.Value())) {
    throw Napi::TypeError::New(env, "expected a Tokenizer");
  }
  return TokenizerWrap::Unwrap(value.As<Napi::Object>())->tokenizer();
}

}  // namespace tce
