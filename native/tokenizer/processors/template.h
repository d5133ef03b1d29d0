// Post-processing as one template per input kind: every post-processor tokenizers has
// (BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel, a Sequence of them, or none)
// comes down to "these special ids, then sequence A with this type id, ...". The template gives
// the number of special tokens (the truncation budget) and the final ids and type ids, and, when
// offsets are asked for, where each token came from. RobertaProcessing and ByteLevel also trim
// whitespace off offsets (trim_offsets), which the tokenizer applies per token (TrimOffsets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/alignment.h"
#include "tokenizer/json_value.h"

namespace tce::tok {

struct TemplatePiece {
  enum class Kind { kA, kB, kSpecial };
  Kind kind = Kind::kA;
  // The type id of every token of this piece; for a sequence, -1 keeps the sequence's own
  // (0 for A, 1 for B: what tokenizers' encode gives each before post-processing).
  int32_t type_id = 0;
  std::vector<int32_t> ids;  // kSpecial: the ids it adds (one token can stand for several)
};

class PostTemplate {
 public:
  // No post-processor: A, then B, with their own type ids.
  PostTemplate();
  // From tokenizer.json's "post_processor" (null allowed).
  static PostTemplate FromJson(const JsonValue& json);
  // BERT's "[CLS] A [SEP]" / "[CLS] A [SEP] B [SEP]".
  static PostTemplate Bert(int32_t cls, int32_t sep);

  // Special tokens added to one sequence / a pair.
  size_t added(bool pair) const { return pair ? added_pair_ : added_single_; }

  // Writes ids and type ids of a[0..keep_a) and (b != null) b[0..keep_b) through the template;
  // without add_special_tokens the specials are skipped but type ids still follow it.
  void Apply(const std::vector<int32_t>& a, size_t keep_a, const std::vector<int32_t>* b,
             size_t keep_b, bool add_special_tokens, std::vector<int32_t>& ids,
             std::vector<int32_t>& type_ids) const;

  // One sequence's tokens before post-processing, as Apply/ApplyOffsets read them.
  struct Tracked {
    const std::vector<ByteRange>* offsets;
    const std::vector<int32_t>* word_ids;
  };
  // Writes offsets, word ids, sequence ids and the special mask in the order Apply writes ids:
  // tokens of A and B keep theirs, with sequence id 0 / 1; the specials get {0, 0}, -1, -1, 1.
  void ApplyOffsets(const Tracked& a, size_t keep_a, const Tracked* b, size_t keep_b, bool add_special_tokens,
                    std::vector<ByteRange>& offsets, std::vector<int32_t>& word_ids,
                    std::vector<int8_t>& sequence_ids, std::vector<uint8_t>& special_mask) const;

  // Whether offsets lose their leading/trailing whitespace (RobertaProcessing, ByteLevel with
  // trim_offsets), and that step's add_prefix_space.
  bool trim_offsets() const { return trim_offsets_; }
  bool trim_add_prefix_space() const { return trim_add_prefix_space_; }

  // The first / last special id of the single template (BERT's CLS / SEP), or -1.
  int32_t first_special() const;
  int32_t last_special() const;

  // The largest special id the templates add (-1 when none), and the largest type id they give
  // any token (a sequence without its own keeps 0 for A, 1 for B). The caller checks both against
  // the model's embedding tables: an index past a table is a device-side assert on CUDA.
  int32_t max_special_id() const;
  int32_t max_type_id() const;

 private:
  void Count();

  std::vector<TemplatePiece> single_, pair_;
  size_t added_single_ = 0, added_pair_ = 0;
  bool trim_offsets_ = false;
  bool trim_add_prefix_space_ = false;
};

}  // namespace tce::tok
