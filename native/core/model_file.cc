#include "model_file.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <zlib.h>

#include "errors.h"

namespace tce::core {

namespace {

constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64End = 0x06064b50;
constexpr uint32_t kCentralEntry = 0x02014b50;
constexpr uint32_t kLocalEntry = 0x04034b50;

uint16_t u16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t u64(const unsigned char* p) { return u32(p) | (static_cast<uint64_t>(u32(p + 4)) << 32); }

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_file(const std::string& path) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  return file;
}

// Reads exactly `length` bytes at `offset` of a file of `file_size` bytes, or throws DamagedFile
// (the range lies past the file's end). The range is checked before anything is allocated: the
// offsets and sizes come from the file itself, and a damaged zip64 record can hold any 64-bit value.
std::vector<unsigned char> read_at(std::FILE* file, const std::string& path, uint64_t file_size, uint64_t offset,
                                   uint64_t length) {
  const auto damaged = [&]() {
    return DamagedFile(path + " is damaged: it ends before the zip record it points to (a truncated copy?)");
  };
  if (offset > file_size || length > file_size - offset) throw damaged();
  std::vector<unsigned char> bytes(static_cast<size_t>(length));
  if (fseeko(file, static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(bytes.data(), 1, bytes.size(), file) != length) {
    throw damaged();
  }
  return bytes;
}

// CRC-32 (the zip / IEEE polynomial), eight bytes per step: about 1 GB/s, so checking a
// BERT-base model.pt (440 MB) adds a fraction of a second to a load that takes longer.
class Crc32 {
 public:
  static const Crc32& instance() {
    static const Crc32 crc;
    return crc;
  }
  uint32_t update(uint32_t crc, const unsigned char* data, size_t length) const {
    crc = ~crc;
    while (length >= 8) {
      const uint32_t low = crc ^ u32(data);
      const uint32_t high = u32(data + 4);
      crc = table_[7][low & 0xff] ^ table_[6][(low >> 8) & 0xff] ^ table_[5][(low >> 16) & 0xff] ^
            table_[4][low >> 24] ^ table_[3][high & 0xff] ^ table_[2][(high >> 8) & 0xff] ^
            table_[1][(high >> 16) & 0xff] ^ table_[0][high >> 24];
      data += 8;
      length -= 8;
    }
    while (length-- > 0) crc = table_[0][(crc ^ *data++) & 0xff] ^ (crc >> 8);
    return ~crc;
  }

 private:
  Crc32() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table_[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (size_t t = 1; t < 8; ++t) table_[t][i] = table_[0][table_[t - 1][i] & 0xff] ^ (table_[t - 1][i] >> 8);
    }
  }
  std::array<std::array<uint32_t, 256>, 8> table_{};
};

// A JSON string starting at text[pos] == '"': its value, with pos moved past it. Only the escapes
// a name or a serialized spec uses are decoded; \u escapes are kept as written (never a valid
// input name, so they are refused later rather than guessed at).
std::string parse_json_string(const std::string& text, size_t& pos) {
  if (pos >= text.size() || text[pos] != '"') throw std::runtime_error("expected a JSON string");
  std::string out;
  for (++pos; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c == '"') {
      ++pos;
      return out;
    }
    if (c == '\\' && pos + 1 < text.size()) {
      const char e = text[++pos];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'u': out += "\\u"; break;
        default: out += e; break;  // \" \\ \/
      }
    } else {
      out += c;
    }
  }
  throw std::runtime_error("unterminated JSON string");
}

void skip_space(const std::string& text, size_t& pos) {
  while (pos < text.size() && std::strchr(" \t\r\n", text[pos]) != nullptr && text[pos] != '\0') ++pos;
}

// A JSON list of strings starting at text[pos] == '['.
std::vector<std::string> parse_string_list(const std::string& text, size_t pos) {
  skip_space(text, pos);
  if (pos >= text.size() || text[pos] != '[') throw std::runtime_error("expected a list of strings");
  std::vector<std::string> items;
  ++pos;
  skip_space(text, pos);
  if (pos < text.size() && text[pos] == ']') return items;
  for (;;) {
    skip_space(text, pos);
    items.push_back(parse_json_string(text, pos));
    skip_space(text, pos);
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      continue;
    }
    if (pos < text.size() && text[pos] == ']') return items;
    throw std::runtime_error("expected a list of strings");
  }
}

// The position just after `"key"` and its colon in a JSON object text, or npos.
size_t after_key(const std::string& json, const std::string& key, size_t from = 0) {
  const std::string quoted = "\"" + key + "\"";
  for (size_t at = json.find(quoted, from); at != std::string::npos; at = json.find(quoted, at + 1)) {
    size_t pos = at + quoted.size();
    skip_space(json, pos);
    if (pos < json.size() && json[pos] == ':') return pos + 1;
  }
  return std::string::npos;
}

}  // namespace

ModelFile::ModelFile(std::string path) : path_(std::move(path)) {
  File file = open_file(path_);
  if (fseeko(file.get(), 0, SEEK_END) != 0) throw std::runtime_error("cannot read " + path_);
  const off_t end = ftello(file.get());
  if (end < 0) throw std::runtime_error("cannot read " + path_);
  size_ = static_cast<uint64_t>(end);
  const uint64_t tail_length = std::min<uint64_t>(size_, 22 + 65535 + 20);
  const std::vector<unsigned char> tail = read_at(file.get(), path_, size_, size_ - tail_length, tail_length);
  size_t eocd = std::string::npos;
  for (size_t i = tail.size() >= 22 ? tail.size() - 22 + 1 : 0; i-- > 0;) {
    if (u32(&tail[i]) == kEndOfCentralDirectory) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) {
    throw DamagedFile(path_ + " is damaged or not a model file: it has no zip directory at its end "
                      "(a truncated copy?)");
  }
  uint64_t count = u16(&tail[eocd + 10]);
  uint64_t directory_size = u32(&tail[eocd + 12]);
  uint64_t directory_offset = u32(&tail[eocd + 16]);
  // A writer that needs zip64 saturates the 32-bit fields that overflow (any of them) and writes
  // the real values in the zip64 end record, which the locator just before this record points to.
  const bool saturated = count == 0xffffu || directory_size == 0xffffffffu || directory_offset == 0xffffffffu;
  if (saturated && eocd >= 20 && u32(&tail[eocd - 20]) == kZip64Locator) {
    const auto record = read_at(file.get(), path_, size_, u64(&tail[eocd - 20 + 8]), 56);
    if (u32(record.data()) != kZip64End) throw DamagedFile(path_ + " is damaged: its zip64 directory record is missing");
    count = u64(&record[32]);
    directory_size = u64(&record[40]);
    directory_offset = u64(&record[48]);
  }
  // Written so that no sum can wrap: both values may be any 64-bit number in a damaged file.
  if (directory_offset > size_ || directory_size > size_ - directory_offset) {
    throw DamagedFile(path_ + " is damaged: its zip directory lies past the end of the file (a truncated copy?)");
  }
  const auto directory = read_at(file.get(), path_, size_, directory_offset, directory_size);
  size_t p = 0;
  for (uint64_t n = 0; n < count; ++n) {
    if (p + 46 > directory.size() || u32(&directory[p]) != kCentralEntry) {
      throw DamagedFile(path_ + " is damaged: its zip directory is cut short");
    }
    Entry entry;
    entry.method = u16(&directory[p + 10]);
    entry.crc = u32(&directory[p + 16]);
    entry.compressed_size = u32(&directory[p + 20]);
    uint64_t uncompressed = u32(&directory[p + 24]);
    const size_t name_length = u16(&directory[p + 28]);
    const size_t extra_length = u16(&directory[p + 30]);
    const size_t comment_length = u16(&directory[p + 32]);
    entry.local_offset = u32(&directory[p + 42]);
    if (p + 46 + name_length + extra_length > directory.size()) {
      throw DamagedFile(path_ + " is damaged: its zip directory is cut short");
    }
    entry.name.assign(reinterpret_cast<const char*>(&directory[p + 46]), name_length);
    // zip64: the sizes and offset marked 0xffffffff follow in extra field 0x0001, in this order.
    for (size_t q = p + 46 + name_length, end = q + extra_length; q + 4 <= end;) {
      const uint16_t id = u16(&directory[q]);
      const uint16_t length = u16(&directory[q + 2]);
      if (id == 1) {
        size_t r = q + 4;
        const auto next = [&]() {
          if (r + 8 > q + 4 + length || r + 8 > directory.size()) throw DamagedFile(path_ + " is damaged: a zip64 field is cut short");
          const uint64_t value = u64(&directory[r]);
          r += 8;
          return value;
        };
        if (uncompressed == 0xffffffffu) uncompressed = next();
        if (entry.compressed_size == 0xffffffffu) entry.compressed_size = next();
        if (entry.local_offset == 0xffffffffu) entry.local_offset = next();
      }
      q += 4 + length;
    }
    entry.uncompressed_size = uncompressed;
    entries_.push_back(std::move(entry));
    p += 46 + name_length + extra_length + comment_length;
  }
}

uint64_t ModelFile::data_start(const Entry& entry) const {
  File file = open_file(path_);
  const auto local = read_at(file.get(), path_, size_, entry.local_offset, 30);
  if (u32(local.data()) != kLocalEntry) {
    throw DamagedFile(path_ + " is damaged: the zip entry " + entry.name.substr(0, 200) + " is not where its directory says");
  }
  const uint64_t start = entry.local_offset + 30 + u16(&local[26]) + u16(&local[28]);
  if (start > size_ || entry.compressed_size > size_ - start) {
    throw DamagedFile(path_ + " is damaged: the zip entry " + entry.name.substr(0, 200) + " runs past the end of the file (a truncated copy?)");
  }
  return start;
}

namespace {
constexpr uint16_t kStored = 0;
constexpr uint16_t kDeflated = 8;

[[noreturn]] void fail_crc(const std::string& path, const std::string& name) {
  throw DamagedFile(path + " is damaged: the zip entry " + name.substr(0, 200) +
                    " fails its CRC check (the file was altered or corrupted after it was "
                    "written). Copy or export the model again.");
}
}  // namespace

void ModelFile::verify_crcs() const {
  File file = open_file(path_);
  std::vector<unsigned char> buffer(1 << 20);
  const Crc32& crc32 = Crc32::instance();
  for (const Entry& entry : entries_) {
    if (entry.method != kStored && entry.method != kDeflated) {
      // libtorch's zip reader (miniz) reads only these two.
      throw DamagedFile(path_ + " is damaged or not written by PyTorch: the zip entry " + entry.name.substr(0, 200) +
                        " uses compression method " + std::to_string(entry.method) +
                        " (PyTorch writes entries stored or deflated). Copy or export the model again.");
    }
    const uint64_t start = data_start(entry);
    if (fseeko(file.get(), static_cast<off_t>(start), SEEK_SET) != 0) throw DamagedFile(path_ + " is damaged: cannot seek to " + entry.name.substr(0, 200));
    if (entry.method == kDeflated) {
      verify_deflated(file.get(), entry, buffer);
      continue;
    }
    uint32_t crc = 0;
    for (uint64_t left = entry.compressed_size; left > 0;) {
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
      if (std::fread(buffer.data(), 1, chunk, file.get()) != chunk) {
        throw DamagedFile(path_ + " is damaged: the zip entry " + entry.name.substr(0, 200) + " is cut short");
      }
      crc = crc32.update(crc, buffer.data(), chunk);
      left -= chunk;
    }
    if (crc != entry.crc) fail_crc(path_, entry.name);
  }
}

// Inflates a deflated entry (PyTorch compresses its debug entries) in chunks and checks the CRC
// and size of what comes out. A flipped byte in the compressed data either breaks the deflate
// stream or changes the output: both are a failed check. Output beyond the declared size stops
// the check at once, so a damaged entry cannot make it inflate without bound.
void ModelFile::verify_deflated(std::FILE* file, const Entry& entry, std::vector<unsigned char>& buffer) const {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) throw std::runtime_error("zlib: inflateInit2 failed");
  std::vector<unsigned char> out(1 << 16);
  const Crc32& crc32 = Crc32::instance();
  uint32_t crc = 0;
  uint64_t produced = 0;
  int status = Z_OK;
  bool damaged = false;
  for (uint64_t left = entry.compressed_size; status != Z_STREAM_END && !damaged;) {
    if (stream.avail_in == 0) {
      if (left == 0) {
        damaged = true;  // the stream needs more than the entry holds
        break;
      }
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
      if (std::fread(buffer.data(), 1, chunk, file) != chunk) {
        inflateEnd(&stream);
        throw DamagedFile(path_ + " is damaged: the zip entry " + entry.name.substr(0, 200) + " is cut short");
      }
      left -= chunk;
      stream.next_in = buffer.data();
      stream.avail_in = static_cast<uInt>(chunk);
    }
    stream.next_out = out.data();
    stream.avail_out = static_cast<uInt>(out.size());
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      damaged = true;
      break;
    }
    const size_t got = out.size() - stream.avail_out;
    produced += got;
    if (produced > entry.uncompressed_size) {
      damaged = true;
      break;
    }
    crc = crc32.update(crc, out.data(), got);
  }
  inflateEnd(&stream);
  if (damaged || produced != entry.uncompressed_size || crc != entry.crc) fail_crc(path_, entry.name);
}

ModelFormat ModelFile::format() const {
  const auto archive_format = read_entry("/archive_format", 64);
  return archive_format && archive_format->rfind("pt2", 0) == 0 ? ModelFormat::kAotiPackage : ModelFormat::kTorchScript;
}

std::optional<std::string> ModelFile::read_entry(const std::string& suffix, size_t max_bytes) const {
  for (const Entry& entry : entries_) {
    if (entry.name.size() < suffix.size() ||
        entry.name.compare(entry.name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    if (entry.method != 0 || entry.compressed_size > max_bytes) return std::nullopt;
    File file = open_file(path_);
    const auto bytes = read_at(file.get(), path_, size_, data_start(entry), entry.compressed_size);
    return std::string(bytes.begin(), bytes.end());
  }
  return std::nullopt;
}

std::vector<InputKind> input_kinds(const std::vector<std::string>& names, const std::string& where) {
  static const char* const kNames[] = {"input_ids", "attention_mask", "token_type_ids"};
  std::vector<InputKind> kinds;
  bool seen[3] = {false, false, false};
  for (const std::string& name : names) {
    int kind = -1;
    for (int k = 0; k < 3; ++k) {
      if (name == kNames[k]) kind = k;
    }
    if (kind < 0 || seen[kind]) {
      // A short, printable excerpt of what the file holds, never more.
      std::string shown;
      for (char c : name.substr(0, 40)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
      throw std::runtime_error(where + (kind < 0 ? " names an input this package cannot feed: \"" : " names an input twice: \"") +
                               shown + "\" (the inputs are input_ids, attention_mask, token_type_ids)");
    }
    seen[kind] = true;
    kinds.push_back(static_cast<InputKind>(kind));
  }
  if (!seen[kInputIds]) throw std::runtime_error(where + " does not name input_ids among the model's inputs");
  return kinds;
}

std::optional<std::vector<std::string>> json_string_list(const std::string& json, const std::string& key) {
  const size_t pos = after_key(json, key);
  if (pos == std::string::npos) return std::nullopt;
  try {
    return parse_string_list(json, pos);
  } catch (const std::runtime_error&) {
    throw std::runtime_error("\"" + key + "\" must be a list of input names");
  }
}

std::optional<std::vector<std::string>> call_spec_keywords(const std::string& in_spec) {
  // [1, {"type": "builtins.tuple", ..., "children_spec": [<args tuple>, {"type": "builtins.dict",
  // "context": "[\"input_ids\", ...]", ...}]}]: the dict's context is itself JSON, as a string.
  const size_t dict = in_spec.find("\"builtins.dict\"");
  if (dict == std::string::npos) return std::nullopt;
  size_t pos = after_key(in_spec, "context", dict);
  if (pos == std::string::npos) return std::nullopt;
  skip_space(in_spec, pos);
  const std::string context = parse_json_string(in_spec, pos);
  std::vector<std::string> names = parse_string_list(context, 0);
  // A package exported with positional inputs has an empty keyword dict: no names here.
  if (names.empty()) return std::nullopt;
  return names;
}

std::optional<size_t> call_spec_positional_count(const std::string& in_spec) {
  // The args tuple comes before the kwargs dict; each input tensor in it is a leaf,
  // {"type": null, ...}. A spec of another shape is not counted.
  const size_t dict = in_spec.find("\"builtins.dict\"");
  if (dict == std::string::npos) return std::nullopt;
  size_t leaves = 0;
  for (size_t at = in_spec.find("\"type\"", 0); at != std::string::npos && at < dict; at = in_spec.find("\"type\"", at + 1)) {
    size_t pos = at + 6;
    skip_space(in_spec, pos);
    if (pos >= in_spec.size() || in_spec[pos] != ':') continue;
    ++pos;
    skip_space(in_spec, pos);
    if (in_spec.compare(pos, 4, "null") == 0) ++leaves;
  }
  return leaves;
}

std::string describe_inputs(const std::vector<InputKind>& inputs) {
  static const char* const kNames[] = {"input_ids", "attention_mask", "token_type_ids"};
  std::string out;
  for (InputKind kind : inputs) out += (out.empty() ? "" : ", ") + std::string(kNames[kind]);
  return out;
}

}  // namespace tce::core
