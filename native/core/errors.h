// Errors inside the core: how a failure's text reaches the caller's buffer, and how libtorch's
// exceptions become short, actionable messages. Every libtorch exception is caught at the C API
// (tce_core.cpp): a C++ exception must never unwind into the addon.
#pragma once

#include <cstddef>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

namespace tce::core {

// A model file that cannot be what it claims: a zip entry failing its CRC, a truncated archive.
// Its message starts with the file's path and "is damaged", which lib/load-failure.ts maps to
// TCE_MODEL_FILE.
class DamagedFile : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Copies `message` into the caller's buffer (always NUL-terminated, cut to fit).
void write_error(char* err, size_t err_len, const std::string& message);

// The same for a fixed text; allocates nothing, so it is safe where building a message failed.
void write_error_text(char* err, size_t err_len, const char* text) noexcept;

// The text of an exception for a user: libtorch's own errors without their C++ backtrace
// ("frame #0 ..."); a long message keeps its first and last lines (a TorchScript interpreter
// error starts with where it happened and ends with what happened).
std::string message_of(const std::exception& e, size_t max_lines = 12);

// The status (TCE_OUT_OF_MEMORY or TCE_ERROR) and message of a failed forward. Out of memory is
// what libtorch's allocator throws, or what cuBLAS / cuDNN report when their workspace fails.
int forward_failure(const std::exception& e, char* err, size_t err_len);

// Runs `body` (returning a status or a pointer) for a function of the C API, so that no exception
// unwinds into the caller: a std::exception becomes its message, anything else (or a failure
// while writing the message, such as bad_alloc) a fixed text naming `function`; both return
// `failure`. Exceptions the body handles itself (forward_failure's out-of-memory status) stay its own.
template <typename Result, typename Body>
Result guarded(const char* function, char* err, size_t err_len, Result failure, Body&& body) noexcept {
  try {
    try {
      return body();
    } catch (const std::exception& e) {
      write_error(err, err_len, message_of(e));
      return failure;
    }
  } catch (...) {
    char text[160];
    std::snprintf(text, sizeof text, "internal error in %s: an unexpected exception in the torch core", function);
    write_error_text(err, err_len, text);
    return failure;
  }
}

}  // namespace tce::core
