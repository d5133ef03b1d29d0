// The JS `Tokenizer` class: a thin wrapper over a shared, immutable tok::Tokenizer.
// encode() runs on the JS thread (a single text is cheap); encodeBatch() takes its texts from a
// TextBuffer (filled in chunks by lib/), tokenizes on the thread pool off the event loop, and
// builds the JS results when it is done. Token strings are looked up on demand (tokens(ids)), so
// the vocabulary lives only here.
#include "addon/tokenizer_binding.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "addon/addon_data.h"
#include "addon/bindings.h"
#include "addon/js_values.h"
#include "addon/text_buffer.h"
#include "addon/thread_pool.h"
#include "tokenizer/offsets.h"

namespace tce {

namespace {

// Runs a synchronous entry point: a C++ exception that is not already a JS error (std::bad_alloc
// from a huge text, say) becomes a coded TCE_INTERNAL error instead of ending the process.
template <typename F>
Napi::Value Guarded(Napi::Env env, const char* what, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const tok::TokenizerFileError& e) {
    ThrowCoded(env, e.what(), "TCE_TOKENIZER_FILE");
  } catch (const std::exception& e) {
    ThrowCoded(env, std::string(what) + " failed: " + e.what(), "TCE_INTERNAL");
  }
}

std::string SpecKey(const char* key) { return std::string("tokenizer spec: \"") + key + "\""; }

// A JS value parsed from tokenizer.json (plain objects, arrays, strings, numbers, booleans,
// null) as a JsonValue. Depth is bounded: tokenizer.json nests a few levels, never hundreds.
tok::JsonValue ToJsonValue(Napi::Env env, Napi::Value v, const std::string& where, int depth = 0) {
  if (depth > 64) ThrowCoded(env, where + " is nested too deeply", "TCE_TOKENIZER_FILE");
  tok::JsonValue out;
  if (v.IsNull() || v.IsUndefined()) return out;
  if (v.IsBoolean()) {
    out.kind = tok::JsonValue::Kind::kBool;
    out.boolean = v.As<Napi::Boolean>().Value();
  } else if (v.IsNumber()) {
    out.kind = tok::JsonValue::Kind::kNumber;
    out.number = v.As<Napi::Number>().DoubleValue();
  } else if (v.IsString()) {
    out.kind = tok::JsonValue::Kind::kString;
    out.string = v.As<Napi::String>().Utf8Value();
  } else if (v.IsArray()) {
    out.kind = tok::JsonValue::Kind::kArray;
    Napi::Array a = v.As<Napi::Array>();
    out.items.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      out.items.push_back(ToJsonValue(env, a.Get(i), where + "[" + std::to_string(i) + "]", depth + 1));
    }
  } else if (v.IsObject() && !v.IsTypedArray() && !v.IsFunction()) {
    out.kind = tok::JsonValue::Kind::kObject;
    Napi::Object o = v.As<Napi::Object>();
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).ToString().Utf8Value();
      out.fields.emplace_back(key, ToJsonValue(env, o.Get(key), where + "." + key, depth + 1));
    }
  } else {
    ThrowCoded(env, where + " must be JSON data", "TCE_INTERNAL");
  }
  return out;
}

// The tokenizer.json pipeline part of a spec (lib/tokenizer-files.ts: `pipeline`).
void ReadPipeline(Napi::Env env, Napi::Object p, tok::TokenizerSpec& spec) {
  spec.pipeline = true;
  spec.normalizer = ToJsonValue(env, p.Get("normalizer"), "normalizer");
  spec.pre_tokenizer = ToJsonValue(env, p.Get("preTokenizer"), "pre_tokenizer");
  spec.model = ToJsonValue(env, p.Get("model"), "model");
  spec.post_processor = ToJsonValue(env, p.Get("postProcessor"), "post_processor");
  Napi::Value scores = p.Get("scores");
  if (!scores.IsUndefined() && !scores.IsNull()) {
    if (!scores.IsTypedArray() || scores.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
      ThrowCoded(env, SpecKey("pipeline.scores") + " must be a Float64Array", "TCE_INTERNAL");
    }
    Napi::Float64Array f = scores.As<Napi::Float64Array>();
    spec.scores.assign(f.Data(), f.Data() + f.ElementLength());
  }
  Napi::Value merges = p.Get("merges");
  if (!merges.IsUndefined() && !merges.IsNull()) AppendStrings(env, merges, SpecKey("pipeline.merges"), spec.merges);
}

// The spec's fields; its vocabulary too unless `vocab` is given (build() takes it from a
// TextBuffer, filled in chunks).
tok::TokenizerSpec ReadSpec(Napi::Env env, Napi::Value value, std::vector<std::string>* vocab = nullptr) {
  if (!value.IsObject()) ThrowCoded(env, "tokenizer spec must be an object", "TCE_INTERNAL");
  Napi::Object o = value.As<Napi::Object>();
  tok::TokenizerSpec spec;
  if (vocab != nullptr) {
    spec.vocab = std::move(*vocab);
  } else {
    AppendStrings(env, o.Get("vocab"), SpecKey("vocab"), spec.vocab);
  }
  spec.clean_text = ReadBool(env, o.Get("cleanText"), SpecKey("cleanText"));
  spec.handle_chinese_chars = ReadBool(env, o.Get("handleChineseChars"), SpecKey("handleChineseChars"));
  spec.strip_accents = ReadBool(env, o.Get("stripAccents"), SpecKey("stripAccents"));
  spec.lowercase = ReadBool(env, o.Get("lowercase"), SpecKey("lowercase"));
  spec.unk_token = ReadString(env, o.Get("unkToken"), SpecKey("unkToken"));
  spec.cls_token = ReadString(env, o.Get("clsToken"), SpecKey("clsToken"));
  spec.sep_token = ReadString(env, o.Get("sepToken"), SpecKey("sepToken"));
  spec.pad_token = ReadString(env, o.Get("padToken"), SpecKey("padToken"));
  spec.continuing_subword_prefix =
      ReadString(env, o.Get("continuingSubwordPrefix"), SpecKey("continuingSubwordPrefix"));
  spec.max_input_chars_per_word = ReadInteger<size_t>(env, o.Get("maxInputCharsPerWord"),
                                                      SpecKey("maxInputCharsPerWord"));
  Napi::Value added = o.Get("addedTokens");
  if (!added.IsArray()) ThrowCoded(env, SpecKey("addedTokens") + " must be an array", "TCE_INTERNAL");
  Napi::Array list = added.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string where = "tokenizer spec: addedTokens[" + std::to_string(i) + "]";
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) ThrowCoded(env, where + " must be an object", "TCE_INTERNAL");
    Napi::Object t = item.As<Napi::Object>();
    tok::AddedToken token;
    token.content = ReadString(env, t.Get("content"), where + ".content");
    token.id = ReadInteger<int32_t>(env, t.Get("id"), where + ".id");
    token.special = ReadBool(env, t.Get("special"), where + ".special");
    token.normalized = ReadBool(env, t.Get("normalized"), where + ".normalized");
    token.single_word = ReadBool(env, t.Get("singleWord"), where + ".singleWord");
    token.lstrip = ReadBool(env, t.Get("lstrip"), where + ".lstrip");
    token.rstrip = ReadBool(env, t.Get("rstrip"), where + ".rstrip");
    spec.added_tokens.push_back(std::move(token));
  }
  Napi::Value pipeline = o.Get("pipeline");
  if (pipeline.IsObject()) ReadPipeline(env, pipeline.As<Napi::Object>(), spec);
  return spec;
}

// Turns an encoding's byte offsets (into its own sequence's UTF-8 text) into UTF-16 code units of
// the JS string, as flat [start, end] pairs; post-processor specials keep 0, 0. Runs where the
// encoding was made (a pool thread for batches).
std::vector<uint32_t> Utf16Offsets(const tok::Encoding& e, std::string_view a, std::string_view b) {
  std::vector<uint32_t> units_a, units_b, out(2 * e.offsets.size(), 0);
  tok::Utf16Positions(a, units_a);
  if (!b.empty()) tok::Utf16Positions(b, units_b);
  for (size_t i = 0; i < e.offsets.size(); ++i) {
    const int8_t seq = e.sequence_ids[i];
    if (seq < 0) continue;
    const std::vector<uint32_t>& units = seq == 0 ? units_a : units_b;
    // Offsets never pass their text's end; the clamp keeps a bug from reading past the table.
    const size_t last = units.size() - 1;
    out[2 * i] = units[std::min<size_t>(e.offsets[i].begin, last)];
    out[2 * i + 1] = units[std::min<size_t>(e.offsets[i].end, last)];
  }
  return out;
}

template <typename Array, typename T>
Array TypedCopy(Napi::Env env, const std::vector<T>& v) {
  Array a = Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

// { ids, typeIds } and, with offsets, { offsets, wordIds, sequenceIds, specialTokensMask }.
Napi::Object ToJs(Napi::Env env, const tok::Encoding& e, const std::vector<uint32_t>* utf16) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("ids", TypedCopy<Napi::Int32Array>(env, e.ids));
  out.Set("typeIds", TypedCopy<Napi::Int32Array>(env, e.type_ids));
  if (utf16 != nullptr) {
    out.Set("offsets", TypedCopy<Napi::Uint32Array>(env, *utf16));
    out.Set("wordIds", TypedCopy<Napi::Int32Array>(env, e.word_ids));
    out.Set("sequenceIds", TypedCopy<Napi::Int8Array>(env, e.sequence_ids));
    out.Set("specialTokensMask", TypedCopy<Napi::Uint8Array>(env, e.special_mask));
  }
  return out;
}

struct EncodeOptions {
  size_t max_length = 0;  // 0: no truncation
  bool add_special_tokens = true;
  bool with_offsets = false;
};

EncodeOptions ReadOptions(const Napi::CallbackInfo& info, size_t first) {
  Napi::Env env = info.Env();
  EncodeOptions o;
  o.max_length = ReadInteger<size_t>(env, info[first], "maxLength");
  o.add_special_tokens = ReadBool(env, info[first + 1], "addSpecialTokens");
  // Optional, so that a caller of the four-argument form keeps working.
  o.with_offsets = !info[first + 2].IsUndefined() && ReadBool(env, info[first + 2], "withOffsets");
  return o;
}

class EncodeBatchWorker : public Napi::AsyncWorker {
 public:
  EncodeBatchWorker(Napi::Env env, std::shared_ptr<const tok::Tokenizer> tokenizer, Texts texts,
                    EncodeOptions options)
      : Napi::AsyncWorker(env, "tce:encodeBatch"),
        deferred_(Napi::Promise::Deferred::New(env)),
        tokenizer_(std::move(tokenizer)),
        texts_(std::move(texts)),
        options_(options) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      results_.resize(texts_.a.size());
      if (options_.with_offsets) utf16_.resize(texts_.a.size());
      ThreadPool::Shared().ParallelFor(texts_.a.size(), 4, [this](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
          const std::string_view b(texts_.b[i]);
          results_[i] = tokenizer_->Encode(texts_.a[i], texts_.has_b[i] ? &b : nullptr, options_.max_length,
                                           options_.add_special_tokens, options_.with_offsets);
          if (options_.with_offsets) utf16_[i] = Utf16Offsets(results_[i], texts_.a[i], texts_.has_b[i] ? b : "");
        }
      });
    } catch (const tok::TokenizerFileError& e) {
      code_ = "TCE_TOKENIZER_FILE";
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  // One flat buffer of ids and one of type ids, and each text's offset into them: three JS
  // objects whatever the batch size, so that building the result never holds the event loop
  // (lib/tokenizer.ts cuts it into encodings a chunk at a time). With offsets, four more flat
  // buffers run parallel to ids (tokenOffsets with two entries per token).
  void OnOK() override {
    Napi::Env env = Env();
    size_t total = 0;
    for (const tok::Encoding& e : results_) total += e.ids.size();
    if (total > std::numeric_limits<uint32_t>::max()) {
      deferred_.Reject(MakeCodedError(env, "encodeBatch: more than 2^32 tokens in one batch; split it", "TCE_INVALID_INPUT").Value());
      return;
    }
    Napi::Int32Array ids = Napi::Int32Array::New(env, total);
    Napi::Int32Array types = Napi::Int32Array::New(env, total);
    Napi::Uint32Array offsets = Napi::Uint32Array::New(env, results_.size() + 1);
    size_t at = 0;
    for (size_t i = 0; i < results_.size(); ++i) {
      const tok::Encoding& e = results_[i];
      offsets[i] = static_cast<uint32_t>(at);
      std::copy(e.ids.begin(), e.ids.end(), ids.Data() + at);
      std::copy(e.type_ids.begin(), e.type_ids.end(), types.Data() + at);
      at += e.ids.size();
    }
    offsets[results_.size()] = static_cast<uint32_t>(at);
    Napi::Object out = Napi::Object::New(env);
    out.Set("ids", ids);
    out.Set("typeIds", types);
    out.Set("offsets", offsets);
    if (options_.with_offsets) {
      Napi::Uint32Array spans = Napi::Uint32Array::New(env, 2 * total);
      Napi::Int32Array words = Napi::Int32Array::New(env, total);
      Napi::Int8Array sequences = Napi::Int8Array::New(env, total);
      Napi::Uint8Array mask = Napi::Uint8Array::New(env, total);
      at = 0;
      for (size_t i = 0; i < results_.size(); ++i) {
        const tok::Encoding& e = results_[i];
        std::copy(utf16_[i].begin(), utf16_[i].end(), spans.Data() + 2 * at);
        std::copy(e.word_ids.begin(), e.word_ids.end(), words.Data() + at);
        std::copy(e.sequence_ids.begin(), e.sequence_ids.end(), sequences.Data() + at);
        std::copy(e.special_mask.begin(), e.special_mask.end(), mask.Data() + at);
        at += e.ids.size();
      }
      out.Set("tokenOffsets", spans);
      out.Set("wordIds", words);
      out.Set("sequenceIds", sequences);
      out.Set("specialTokensMask", mask);
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& error) override {
    deferred_.Reject(MakeCodedError(Env(), "Tokenization failed: " + error.Message(), code_).Value());
  }

 private:
  const char* code_ = "TCE_INTERNAL";
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<const tok::Tokenizer> tokenizer_;
  Texts texts_;
  EncodeOptions options_;
  std::vector<tok::Encoding> results_;
  std::vector<std::vector<uint32_t>> utf16_;  // with offsets: results_[i]'s in UTF-16 units
};

class TokenizerWrap : public Napi::ObjectWrap<TokenizerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Tokenizer",
                       {
                           StaticMethod<&TokenizerWrap::Build>("build"),
                           InstanceMethod<&TokenizerWrap::Encode>("encode"),
                           InstanceMethod<&TokenizerWrap::EncodeBatch>("encodeBatch"),
                           InstanceMethod<&TokenizerWrap::Tokens>("tokens"),
                           InstanceAccessor<&TokenizerWrap::VocabSize>("vocabSize"),
                           InstanceAccessor<&TokenizerWrap::PadId>("padId"),
                           InstanceAccessor<&TokenizerWrap::MaxId>("maxId"),
                           InstanceAccessor<&TokenizerWrap::MaxTypeId>("maxTypeId"),
                           InstanceMethod<&TokenizerWrap::AddedSpecialTokens>("addedSpecialTokens"),
                       });
  }

  explicit TokenizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TokenizerWrap>(info) {
    Napi::Env env = info.Env();
    if (adopting_ != nullptr) {  // made by build(): the tokenizer is already constructed
      tokenizer_ = std::move(*adopting_);
      adopting_ = nullptr;
      return;
    }
    tok::TokenizerSpec spec;
    Guarded(env, "new Tokenizer()", [&] {
      spec = ReadSpec(env, info[0]);
      return env.Undefined();
    });
    try {
      tokenizer_ = std::make_shared<const tok::Tokenizer>(std::move(spec));
    } catch (const std::bad_alloc& e) {
      ThrowCoded(env, std::string("new Tokenizer() failed: ") + e.what(), "TCE_INTERNAL");
    } catch (const std::exception& e) {
      ThrowCoded(env, e.what(), "TCE_TOKENIZER_FILE");
    }
  }

  const std::shared_ptr<const tok::Tokenizer>& tokenizer() const { return tokenizer_; }

  // A JS Tokenizer object for a tokenizer built elsewhere (JS thread only).
  static Napi::Object Adopt(Napi::Env env, std::shared_ptr<const tok::Tokenizer> tokenizer) {
    adopting_ = &tokenizer;
    Napi::Object object;
    try {
      object = AddonData::Of(env).tokenizer_constructor.New({});
    } catch (...) {
      adopting_ = nullptr;
      throw;
    }
    return object;
  }

 private:
  // build(spec, vocab: TextBuffer) -> Promise<Tokenizer>: as `new Tokenizer(spec)`, but the
  // vocabulary arrives in chunks and the tokenizer (its lookup tables: seconds for millions of
  // tokens) is constructed on a pool thread.
  // The vocabulary comes as a TextBuffer, or packed ({ bytes, lengths }: every token's UTF-8
  // bytes back to back, and their byte lengths), as lib/tokenizer-read.ts's worker sends it.
  static Napi::Value Build(const Napi::CallbackInfo& info) {
    return Guarded(info.Env(), "Tokenizer.build()", [&] { return BuildUnguarded(info); });
  }

  static Napi::Value BuildUnguarded(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<std::string> vocab;
    PackedVocab packed;
    if (info[1].IsObject() && info[1].As<Napi::Object>().Has("bytes")) {
      Napi::Object o = info[1].As<Napi::Object>();
      Napi::Value bytes = o.Get("bytes"), lengths = o.Get("lengths");
      if (!bytes.IsTypedArray() || bytes.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
          !lengths.IsTypedArray() || lengths.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
        ThrowCoded(env, "build(spec, { bytes: Uint8Array, lengths: Uint32Array })", "TCE_INTERNAL");
      }
      Napi::Uint8Array b = bytes.As<Napi::Uint8Array>();
      Napi::Uint32Array l = lengths.As<Napi::Uint32Array>();
      packed.bytes.assign(reinterpret_cast<const char*>(b.Data()), b.ElementLength());
      packed.lengths.assign(l.Data(), l.Data() + l.ElementLength());
    } else {
      vocab = std::move(TakeTexts(env, info[1]).a);
    }
    auto* worker = new BuildWorker(env, ReadSpec(env, info[0], &vocab), std::move(packed));
    Napi::Promise promise = worker->Promise();
    worker->Queue();  // the worker deletes itself once settled
    return promise;
  }

  struct PackedVocab {
    std::string bytes;
    std::vector<uint32_t> lengths;
  };

  class BuildWorker : public Napi::AsyncWorker {
   public:
    BuildWorker(Napi::Env env, tok::TokenizerSpec spec, PackedVocab packed)
        : Napi::AsyncWorker(env, "tce:buildTokenizer"),
          deferred_(Napi::Promise::Deferred::New(env)),
          spec_(std::move(spec)),
          packed_(std::move(packed)) {}
    Napi::Promise Promise() const { return deferred_.Promise(); }
    void Execute() override {
      try {
        if (!packed_.lengths.empty()) {
          spec_.vocab.reserve(packed_.lengths.size());
          size_t at = 0;
          for (uint32_t length : packed_.lengths) {
            if (length > packed_.bytes.size() - at) throw std::invalid_argument("packed vocabulary: lengths exceed the bytes");
            spec_.vocab.emplace_back(packed_.bytes, at, length);
            at += length;
          }
          PackedVocab().bytes.swap(packed_.bytes);
        }
        built_ = std::make_shared<const tok::Tokenizer>(std::move(spec_));
      } catch (const std::exception& e) {
        SetError(e.what());
      }
    }
    void OnOK() override {
      try {
        deferred_.Resolve(Adopt(Env(), std::move(built_)));
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      }
    }
    void OnError(const Napi::Error& error) override {
      deferred_.Reject(MakeCodedError(Env(), error.Message(), "TCE_TOKENIZER_FILE").Value());
    }

   private:
    Napi::Promise::Deferred deferred_;
    tok::TokenizerSpec spec_;
    PackedVocab packed_;
    std::shared_ptr<const tok::Tokenizer> built_;
  };

  // Set by Adopt() for the one constructor call it makes; per thread, as each JS environment
  // (main thread, workers) runs on its own.
  static inline thread_local std::shared_ptr<const tok::Tokenizer>* adopting_ = nullptr;

  // encode(text, pair | null, maxLength, addSpecialTokens, withOffsets)
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    return Guarded(info.Env(), "encode()", [&] { return EncodeUnguarded(info); });
  }

  Napi::Value EncodeUnguarded(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string a = ReadString(env, info[0], "text");
    const bool pair = !info[1].IsNull() && !info[1].IsUndefined();
    const std::string b = pair ? ReadString(env, info[1], "pair") : std::string();
    const EncodeOptions o = ReadOptions(info, 2);
    const std::string_view bv(b);
    const tok::Encoding e = tokenizer_->Encode(a, pair ? &bv : nullptr, o.max_length, o.add_special_tokens, o.with_offsets);
    if (!o.with_offsets) return ToJs(env, e, nullptr);
    const std::vector<uint32_t> utf16 = Utf16Offsets(e, a, b);
    return ToJs(env, e, &utf16);
  }

  // encodeBatch(texts: TextBuffer, maxLength, addSpecialTokens, withOffsets)
  //   -> Promise<{ ids, typeIds, offsets[, tokenOffsets, wordIds, sequenceIds, specialTokensMask] }>
  Napi::Value EncodeBatch(const Napi::CallbackInfo& info) {
    return Guarded(info.Env(), "encodeBatch()", [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      const EncodeOptions o = ReadOptions(info, 1);
      auto* worker = new EncodeBatchWorker(env, tokenizer_, TakeTexts(env, info[0]), o);
      Napi::Promise promise = worker->Promise();
      worker->Queue();  // the worker deletes itself once settled
      return promise;
    });
  }

  // tokens(ids: Int32Array) -> string[]
  Napi::Value Tokens(const Napi::CallbackInfo& info) {
    return Guarded(info.Env(), "tokens()", [&] { return TokensUnguarded(info); });
  }

  Napi::Value TokensUnguarded(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      ThrowCoded(env, "tokens(ids: Int32Array)", "TCE_INTERNAL");
    }
    Napi::Int32Array ids = info[0].As<Napi::Int32Array>();
    Napi::Array out = Napi::Array::New(env, ids.ElementLength());
    for (size_t i = 0; i < ids.ElementLength(); ++i) {
      out.Set(static_cast<uint32_t>(i), Napi::String::New(env, tokenizer_->IdToToken(ids[i])));
    }
    return out;
  }

  Napi::Value VocabSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(tokenizer_->vocab_size()));
  }

  // addedSpecialTokens(pair: boolean) -> number: what the post-processor adds.
  Napi::Value AddedSpecialTokens(const Napi::CallbackInfo& info) {
    const bool pair = ReadBool(info.Env(), info[0], "pair");
    return Napi::Number::New(info.Env(), static_cast<double>(tokenizer_->added_special_tokens(pair)));
  }

  Napi::Value PadId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), tokenizer_->pad_id());
  }

  // The largest id / type id the tokenizer can give: lib/ checks them against the model's tables.
  Napi::Value MaxId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), tokenizer_->max_id());
  }
  Napi::Value MaxTypeId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), tokenizer_->max_type_id());
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
    ThrowCoded(env, "expected a Tokenizer", "TCE_INTERNAL");
  }
  return TokenizerWrap::Unwrap(value.As<Napi::Object>())->tokenizer();
}

}  // namespace tce
