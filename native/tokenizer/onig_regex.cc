#include "tokenizer/onig_regex.h"

#include <oniguruma.h>

#include <mutex>
#include <stdexcept>

#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

std::string ErrorText(int code, OnigErrorInfo* info) {
  OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
  const int n = info != nullptr ? onig_error_code_to_str(message, code, info) : onig_error_code_to_str(message, code);
  return std::string(reinterpret_cast<const char*>(message), n > 0 ? static_cast<size_t>(n) : 0);
}

// Oniguruma must be initialized once, before any regex is compiled, and compiling is not
// documented as thread-safe; tokenizers are loaded on the addon's worker threads, so compiling is
// serialized (it happens once per pattern at load, never while encoding).
std::mutex& CompileMutex() {
  static std::mutex mutex;
  return mutex;
}

void InitializeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    const int r = onig_initialize(encodings, 1);
    if (r != ONIG_NORMAL) throw std::runtime_error("Oniguruma failed to initialize: " + ErrorText(r, nullptr));
  });
}

struct RegionFree {
  void operator()(OnigRegion* region) const { onig_region_free(region, 1); }
};

}  // namespace

void OnigRegex::Free::operator()(re_pattern_buffer* regex) const { onig_free(regex); }

OnigRegex::OnigRegex(const std::string& pattern) {
  InitializeOnce();
  const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  OnigErrorInfo info;
  regex_t* compiled = nullptr;
  int r;
  {
    std::lock_guard<std::mutex> lock(CompileMutex());
    r = onig_new(&compiled, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
  }
  if (r != ONIG_NORMAL) {
    if (compiled != nullptr) onig_free(compiled);
    throw std::invalid_argument(ErrorText(r, &info));
  }
  regex_.reset(compiled);
}

void OnigRegex::FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  std::unique_ptr<OnigRegion, RegionFree> region(onig_region_new());
  if (!region) throw std::bad_alloc();
  const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
  const OnigUChar* end = begin + text.size();
  size_t from = 0;
  bool matched_before = false;
  size_t last_match_end = 0;
  while (from <= text.size()) {
    onig_region_clear(region.get());
    const int r = onig_search(regex_.get(), begin, end, begin + from, end, region.get(), ONIG_OPTION_NONE);
    if (r == ONIG_MISMATCH) return;
    // Only a resource limit (Oniguruma's retry limit on pathological backtracking) lands here.
    if (r < 0) throw std::runtime_error("regex search failed: " + ErrorText(r, nullptr));
    const size_t s = static_cast<size_t>(region->beg[0]);
    const size_t e = static_cast<size_t>(region->end[0]);
    if (s == e && matched_before && last_match_end == e) {
      // No empty match right after the previous match: move on by one character (one byte at
      // the end of the text, which ends the loop).
      size_t len = 1;
      if (from < text.size()) unicode::DecodeUtf8(begin + from, end, &len);
      from += len;
      continue;
    }
    from = e;
    matched_before = true;
    last_match_end = e;
    out.emplace_back(s, e);
  }
}

}  // namespace tce::tok
