#include "tokenizer/onig_regex.h"

#include <mutex>
#include <stdexcept>

#include "tokenizer/onig_library.h"
#include "tokenizer/unicode.h"

namespace tce::tok {

namespace {

std::string ErrorText(const OnigLibrary& onig, int code, OnigErrorInfo* info) {
  OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
  const int n = info != nullptr ? onig.error_code_to_str(message, code, info) : onig.error_code_to_str(message, code);
  return std::string(reinterpret_cast<const char*>(message), n > 0 ? static_cast<size_t>(n) : 0);
}

// Compiling is not documented as thread-safe (Onig() initializes the library once, before the
// first compile); tokenizers are loaded on the addon's worker threads, so compiling is serialized
// (it happens once per pattern at load, never while encoding).
std::mutex& CompileMutex() {
  static std::mutex mutex;
  return mutex;
}

struct RegionFree {
  void operator()(OnigRegion* region) const { Onig().region_free(region, 1); }
};

}  // namespace

// Onig() has succeeded before any regex exists, so it returns without throwing here.
void OnigRegex::Free::operator()(re_pattern_buffer* regex) const { Onig().free_regex(regex); }

OnigRegex::OnigRegex(const std::string& pattern) {
  const OnigLibrary& onig = Onig();
  const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  OnigErrorInfo info;
  regex_t* compiled = nullptr;
  int r;
  {
    std::lock_guard<std::mutex> lock(CompileMutex());
    r = onig.new_regex(&compiled, p, p + pattern.size(), ONIG_OPTION_NONE, onig.utf8, onig.default_syntax, &info);
  }
  if (r != ONIG_NORMAL) {
    if (compiled != nullptr) onig.free_regex(compiled);
    throw std::invalid_argument(ErrorText(onig, r, &info));
  }
  regex_.reset(compiled);
}

void OnigRegex::FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  const OnigLibrary& onig = Onig();
  std::unique_ptr<OnigRegion, RegionFree> region(onig.region_new());
  if (!region) throw std::bad_alloc();
  const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
  const OnigUChar* end = begin + text.size();
  size_t from = 0;
  bool matched_before = false;
  size_t last_match_end = 0;
  while (from <= text.size()) {
    onig.region_clear(region.get());
    const int r = onig.search(regex_.get(), begin, end, begin + from, end, region.get(), ONIG_OPTION_NONE);
    if (r == ONIG_MISMATCH) return;
    // Only a resource limit (Oniguruma's retry limit on pathological backtracking) lands here.
    if (r < 0) throw std::runtime_error("regex search failed: " + ErrorText(onig, r, nullptr));
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
