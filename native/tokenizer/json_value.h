// A JSON value as tokenizer.json holds it, for the settings of one pipeline component
// (normalizer, pre-tokenizer, post-processor, model). The addon converts the parsed JS object
// into this form once, at load; components read their settings from it and throw
// std::invalid_argument naming the component and the setting when one is missing or malformed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tce::tok {

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> items;                            // kArray
  std::vector<std::pair<std::string, JsonValue>> fields;   // kObject, in file order

  bool is_null() const { return kind == Kind::kNull; }
  bool is_object() const { return kind == Kind::kObject; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_string() const { return kind == Kind::kString; }

  // The field `key` of an object; nullptr when absent (or when this is not an object).
  const JsonValue* Get(const std::string& key) const {
    for (const auto& f : fields) {
      if (f.first == key) return &f.second;
    }
    return nullptr;
  }
};

// Typed access with the component's name in every error ("Metaspace: \"replacement\" must be ...").
class Settings {
 public:
  Settings(const JsonValue& value, std::string what);

  const std::string& what() const { return what_; }
  const JsonValue& value() const { return value_; }
  // `type` of the component ("" when absent).
  std::string Type() const;

  bool Bool(const char* key, bool fallback) const;
  double Number(const char* key, double fallback) const;
  // An integer in [min, max]; `fallback` when absent or null.
  int64_t Integer(const char* key, int64_t fallback, int64_t min, int64_t max) const;
  // A non-negative integer of any size (tokenizers' usize limits), read as min(value, cap): past
  // the cap a limit no longer changes anything. JSON's 9223372036854775807 arrives as 2^63.
  int64_t CappedCount(const char* key, int64_t fallback, int64_t cap) const;
  std::string String(const char* key, const std::string& fallback) const;
  std::string RequiredString(const char* key) const;
  // Whether the key is present and not null.
  bool Has(const char* key) const;
  // The array at `key` (throws when absent or not an array).
  const std::vector<JsonValue>& Array(const char* key) const;
  const JsonValue& Object(const char* key) const;

  [[noreturn]] void Fail(const std::string& message) const;

 private:
  const JsonValue& value_;
  std::string what_;
};

}  // namespace tce::tok
