// Reading JS values at the addon's boundary. The package's TypeScript checks every option and
// input against its documented bounds first (lib/validate.ts); these readers only make sure that
// what crosses into C++ has the type and range of the C++ variable it lands in, so that no cast
// is undefined behaviour. What they throw carries a TCE_ code, like every error of the package.
#pragma once

#include <napi.h>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "addon/bindings.h"

namespace tce {

[[noreturn]] inline void ThrowCoded(Napi::Env env, const std::string& message, const char* code) {
  throw MakeCodedError(env, message, code);
}

std::string ReadString(Napi::Env env, const Napi::Value& value, const std::string& what);
bool ReadBool(Napi::Env env, const Napi::Value& value, const std::string& what);
double ReadNumber(Napi::Env env, const Napi::Value& value, const std::string& what);

// An integer that T holds exactly, at least `min`.
template <typename T>
T ReadInteger(Napi::Env env, const Napi::Value& value, const std::string& what, T min = T{0}) {
  static_assert(std::is_integral_v<T>, "ReadInteger reads integers");
  const double d = ReadNumber(env, value, what);
  // 2^53 bounds the doubles that are exact integers; every T here is compared within it.
  const double max = std::min(static_cast<double>(std::numeric_limits<T>::max()), 9007199254740991.0);
  if (!(d >= static_cast<double>(min) && d <= max) || std::floor(d) != d) {
    ThrowCoded(env, what + " must be an integer from " + std::to_string(min) + " to " +
                        std::to_string(static_cast<long long>(max)),
               "TCE_INVALID_OPTION");
  }
  return static_cast<T>(d);
}

// Appends the strings of a JS array to `out` (UTF-8).
void AppendStrings(Napi::Env env, const Napi::Value& value, const std::string& what,
                   std::vector<std::string>& out);

}  // namespace tce
