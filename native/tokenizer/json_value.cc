#include "tokenizer/json_value.h"

#include <cmath>
#include <stdexcept>

namespace tce::tok {

Settings::Settings(const JsonValue& value, std::string what) : value_(value), what_(std::move(what)) {
  if (!value_.is_object()) Fail("must be an object");
}

void Settings::Fail(const std::string& message) const {
  throw std::invalid_argument(what_ + ": " + message);
}

std::string Settings::Type() const {
  const JsonValue* v = value_.Get("type");
  return v != nullptr && v->is_string() ? v->string : std::string();
}

bool Settings::Has(const char* key) const {
  const JsonValue* v = value_.Get(key);
  return v != nullptr && !v->is_null();
}

bool Settings::Bool(const char* key, bool fallback) const {
  const JsonValue* v = value_.Get(key);
  if (v == nullptr || v->is_null()) return fallback;
  if (v->kind != JsonValue::Kind::kBool) Fail(std::string("\"") + key + "\" must be a boolean");
  return v->boolean;
}

double Settings::Number(const char* key, double fallback) const {
  const JsonValue* v = value_.Get(key);
  if (v == nullptr || v->is_null()) return fallback;
  if (v->kind != JsonValue::Kind::kNumber) Fail(std::string("\"") + key + "\" must be a number");
  return v->number;
}

int64_t Settings::Integer(const char* key, int64_t fallback, int64_t min, int64_t max) const {
  const JsonValue* v = value_.Get(key);
  if (v == nullptr || v->is_null()) return fallback;
  // double(INT64_MAX) rounds up to 2^63, which int64_t cannot hold: numbers from 2^63 up are
  // refused before the conversion, and the converted value is compared with `max` exactly.
  constexpr double kTwoTo63 = 9223372036854775808.0;
  const bool in_range = v->kind == JsonValue::Kind::kNumber && std::floor(v->number) == v->number &&
                        v->number >= -kTwoTo63 && v->number < kTwoTo63;
  if (!in_range || static_cast<int64_t>(v->number) < min || static_cast<int64_t>(v->number) > max) {
    Fail(std::string("\"") + key + "\" must be an integer from " + std::to_string(min) + " to " +
         std::to_string(max));
  }
  return static_cast<int64_t>(v->number);
}

int64_t Settings::CappedCount(const char* key, int64_t fallback, int64_t cap) const {
  const JsonValue* v = value_.Get(key);
  if (v == nullptr || v->is_null()) return fallback;
  if (v->kind != JsonValue::Kind::kNumber || !std::isfinite(v->number) || std::floor(v->number) != v->number ||
      v->number < 0) {
    Fail(std::string("\"") + key + "\" must be a non-negative integer");
  }
  // Compared as doubles before any conversion: cap <= INT64_MAX, so the result fits.
  return v->number >= static_cast<double>(cap) ? cap : static_cast<int64_t>(v->number);
}

std::string Settings::String(const char* key, const std::string& fallback) const {
  const JsonValue* v = value_.Get(key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_string()) Fail(std::string("\"") + key + "\" must be a string");
  return v->string;
}

std::string Settings::RequiredString(const char* key) const {
  if (!Has(key)) Fail(std::string("\"") + key + "\" is missing");
  return String(key, "");
}

const std::vector<JsonValue>& Settings::Array(const char* key) const {
  const JsonValue* v = value_.Get(key);
  if (v == nullptr || !v->is_array()) Fail(std::string("\"") + key + "\" must be an array");
  return v->items;
}

const JsonValue& Settings::Object(const char* key) const {
  const JsonValue* v = value_.Get(key);
  if (v == nullptr || !v->is_object()) Fail(std::string("\"") + key + "\" must be an object");
  return *v;
}

}  // namespace tce::tok
