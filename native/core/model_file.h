// A model file as a zip archive (TorchScript's model.pt and AOTInductor's model.pt2 both are),
// read without libtorch: its entries, their CRC check, its format, and the small JSON texts in it
// that name the model's inputs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace tce::core {

enum class ModelFormat { kTorchScript, kAotiPackage };

// The three inputs a cross-encoder graph can take, in the order of the C API's arrays
// (tce_model_submit): what a model's `input_names` may name.
enum InputKind { kInputIds = 0, kAttentionMask = 1, kTokenTypeIds = 2 };

class ModelFile {
 public:
  // Reads the archive's directory. Throws DamagedFile when the file is not a readable zip.
  explicit ModelFile(std::string path);

  // Reads every entry, stored or deflated (inflated with zlib), and checks its data against the
  // CRC-32 and size in the directory, so that a damaged file is refused at load instead of
  // computing with corrupt weights (or failing later, when libtorch reads a damaged debug entry).
  // Throws DamagedFile naming the first entry that fails, or one in a compression libtorch cannot
  // read. Runs on the model's own thread (never the event loop's).
  void verify_crcs() const;

  // A TorchScript archive or an AOTInductor package (its archive_format entry says "pt2").
  ModelFormat format() const;

  // The bytes of the first entry whose name ends with `suffix`, if it is stored uncompressed and
  // at most `max_bytes` long.
  std::optional<std::string> read_entry(const std::string& suffix, size_t max_bytes = 1 << 20) const;

  const std::string& path() const { return path_; }

 private:
  struct Entry {
    std::string name;
    uint16_t method = 0;
    uint32_t crc = 0;
    uint64_t compressed_size = 0;
    uint64_t uncompressed_size = 0;
    uint64_t local_offset = 0;
  };
  uint64_t data_start(const Entry& entry) const;
  void verify_deflated(std::FILE* file, const Entry& entry, std::vector<unsigned char>& buffer) const;

  std::string path_;
  uint64_t size_ = 0;
  std::vector<Entry> entries_;
};

// The inputs a graph takes, in order, from the names in `names`; throws std::runtime_error naming
// `where` for an unknown or repeated name or a list without input_ids.
std::vector<InputKind> input_kinds(const std::vector<std::string>& names, const std::string& where);

// The string list under `key` in a JSON object text (export metadata: "input_names"), or nothing
// when the key is absent. Throws std::runtime_error when the value is not a list of strings.
std::optional<std::vector<std::string>> json_string_list(const std::string& json, const std::string& key);

// The keyword names of an AOTInductor call spec (its serialized input tree: a tuple of positional
// arguments and a dict of keyword arguments), in the order the package takes them, or nothing
// when the spec has no keyword arguments (a package exported with positional inputs).
std::optional<std::vector<std::string>> call_spec_keywords(const std::string& in_spec);

// The number of positional input tensors (leaves of the args tuple) in the same call spec, or
// nothing when the spec is not a (args, kwargs) pair.
std::optional<size_t> call_spec_positional_count(const std::string& in_spec);

// "input_ids, attention_mask": names for a message.
std::string describe_inputs(const std::vector<InputKind>& inputs);

}  // namespace tce::core
