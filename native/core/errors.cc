#include "errors.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "tce_core.h"

namespace tce::core {

namespace {

std::string first_and_last_lines(const char* what, size_t max_lines) {
  std::string text(what == nullptr ? "" : what);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  lines.push_back(text.substr(start));
  if (lines.size() <= max_lines) return text;
  const size_t head = max_lines / 2;
  const size_t tail = max_lines - head;
  std::string out;
  for (size_t i = 0; i < head; ++i) out += lines[i] + "\n";
  out += "  ...\n";
  for (size_t i = lines.size() - tail; i < lines.size(); ++i) {
    out += lines[i] + (i + 1 < lines.size() ? "\n" : "");
  }
  return out;
}

bool is_out_of_memory_message(const std::string& message) {
  return message.find("out of memory") != std::string::npos ||
         message.find("CUBLAS_STATUS_ALLOC_FAILED") != std::string::npos ||
         message.find("CUDNN_STATUS_ALLOC_FAILED") != std::string::npos ||
         message.find("CUDNN_STATUS_NOT_ENOUGH_WORKSPACE") != std::string::npos;
}

}  // namespace

void write_error(char* err, size_t err_len, const std::string& message) {
  if (err == nullptr || err_len == 0) return;
  const size_t n = std::min(message.size(), err_len - 1);
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

void write_error_text(char* err, size_t err_len, const char* text) noexcept {
  if (err == nullptr || err_len == 0) return;
  const size_t n = text == nullptr ? 0 : std::min(std::strlen(text), err_len - 1);
  if (n > 0) std::memcpy(err, text, n);
  err[n] = '\0';
}

std::string message_of(const std::exception& e, size_t max_lines) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    return first_and_last_lines(error->what_without_backtrace(), max_lines);
  }
  return first_and_last_lines(e.what(), max_lines);
}

int forward_failure(const std::exception& e, char* err, size_t err_len) {
  const std::string message = message_of(e);
  write_error(err, err_len, message);
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) return TCE_OUT_OF_MEMORY;
  return is_out_of_memory_message(message) ? TCE_OUT_OF_MEMORY : TCE_ERROR;
}

}  // namespace tce::core
