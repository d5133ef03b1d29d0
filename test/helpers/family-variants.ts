/**
 * Edits of the family tokenizer.json files (scripts/make-family-fixtures.py, as transformers 4.51
 * converts them) that real files use, or that put the remaining normalizers, pre-tokenizers and
 * post-processors on the path. The ids parity (tokenizer-families.test.ts) and the offsets parity
 * (tokenizer-offsets.test.ts) run on this one list.
 */
import fs from 'node:fs';
import path from 'node:path';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface FamilyVariant {
  name: string;
  /** The family whose tokenizer.json is edited. */
  family: 'xlmr' | 'deberta-v3' | 'modernbert' | 'qwen2' | 'llama3';
  edit: (json: Json) => void;
  /** Keep the family's tokenizer_config.json beside it (the causal-LM families name their padding token there). */
  withConfig?: boolean;
}

/** roberta-base / GPT-2 style: a space before each word, RobertaProcessing. */
function roberta(j: Json, trimOffsets: boolean): void {
  j.normalizer = null;
  j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: trimOffsets, use_regex: true };
  j.post_processor = { type: 'RobertaProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1], trim_offsets: trimOffsets, add_prefix_space: true };
}

export const FAMILY_VARIANTS: readonly FamilyVariant[] = [
  // Qwen's split with Llama-3's ignore_merges, and Llama-3's without it.
  { name: 'qwen2 with ignore_merges', family: 'qwen2', withConfig: true, edit: (j) => {
    j.model.ignore_merges = true;
  } },
  { name: 'llama3 without ignore_merges, NFC', family: 'llama3', withConfig: true, edit: (j) => {
    j.model.ignore_merges = false;
    j.normalizer = { type: 'NFC' };
  } },
  // bge-reranker / xlm-roberta-base as published: RobertaProcessing (every type id 0).
  { name: 'xlmr with RobertaProcessing', family: 'xlmr', edit: (j) => {
    j.post_processor = { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: true };
  } },
  // Metaspace's "first" (sentencepiece's legacy=false): the prefix only where the original text
  // starts, so not after a stripped leading space nor after an added token.
  { name: 'xlmr with Strip and Metaspace prepend_scheme first', family: 'xlmr', edit: (j) => {
    j.normalizer = { type: 'Sequence', normalizers: [{ type: 'Strip', strip_left: true, strip_right: false }, j.normalizer] };
    j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true }] };
  } },
  // DeBERTa-v3's pieces include <0x00>..<0xFF>: byte fallback instead of [UNK].
  { name: 'deberta-v3 with byte_fallback', family: 'deberta-v3', edit: (j) => {
    j.model.byte_fallback = true;
  } },
  // DeBERTa-v2's split_by_punct and a lowercasing config.
  { name: 'deberta-v3 with Punctuation and Lowercase', family: 'deberta-v3', edit: (j) => {
    j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Punctuation', behavior: 'Isolated' }, j.pre_tokenizer] };
    j.normalizer = { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, j.normalizer] };
  } },
  // ModernBERT as its hub file: ByteLevel then the template.
  { name: 'modernbert with Sequence[ByteLevel, Template]', family: 'modernbert', edit: (j) => {
    j.post_processor = { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, j.post_processor] };
  } },
  { name: 'RoBERTa (byte-level BPE, prefix space, RobertaProcessing trim_offsets)', family: 'modernbert', edit: (j) => roberta(j, true) },
  { name: 'RoBERTa without trim_offsets', family: 'modernbert', edit: (j) => roberta(j, false) },
  // No post-processor specials: ids as the model gives them, B with type id 1.
  { name: 'byte-level BPE without regex, ByteLevel post-processor', family: 'modernbert', edit: (j) => {
    j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };
    j.post_processor = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  } },
  // The remaining normalizers and pre-tokenizers, on the Unigram model.
  { name: 'Unigram with NFKD, StripAccents, Replace, Prepend, NFC; Split, Digits, Whitespace', family: 'xlmr', edit: (j) => {
    j.normalizer = { type: 'Sequence', normalizers: [
      { type: 'NFKD' }, { type: 'StripAccents' }, { type: 'Replace', pattern: { String: '``' }, content: '"' },
      { type: 'Replace', pattern: { Regex: '[\\n\\t]+|\\s{3,}' }, content: ' ' }, { type: 'Prepend', prepend: '▁' }, { type: 'NFC' },
    ] };
    j.pre_tokenizer = { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: '\\d+' }, behavior: 'Isolated', invert: false },
      { type: 'Digits', individual_digits: true }, { type: 'Whitespace' },
    ] };
  } },
  { name: 'Unigram with NFKC, Strip, NFD; WhitespaceSplit, Split (merged with previous; inverted, contiguous), Metaspace', family: 'xlmr', edit: (j) => {
    j.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Strip', strip_left: true, strip_right: true }, { type: 'NFD' }] };
    j.pre_tokenizer = { type: 'Sequence', pretokenizers: [
      { type: 'WhitespaceSplit' }, { type: 'Split', pattern: { String: '-' }, behavior: 'MergedWithPrevious', invert: false },
      { type: 'Split', pattern: { Regex: '\\w+' }, behavior: 'Contiguous', invert: true },
      { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false },
    ] };
  } },
];

/**
 * Writes the variant's tokenizer.json (and, with withConfig, the family's tokenizer_config.json)
 * under `scratch` the first time; returns the file. `familiesDir` holds the family folders.
 */
export function writeVariant(v: FamilyVariant, familiesDir: string, scratch: string): string {
  const file = path.join(scratch, v.name.replace(/[^a-z0-9]+/gi, '-'), 'tokenizer.json');
  if (fs.existsSync(file)) return file;
  const source = path.join(familiesDir, v.family, 'tokenizer.json');
  const json = JSON.parse(fs.readFileSync(source, 'utf8')) as Json;
  v.edit(json);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(json));
  if (v.withConfig) fs.copyFileSync(path.join(familiesDir, v.family, 'tokenizer_config.json'), path.join(path.dirname(file), 'tokenizer_config.json'));
  return file;
}
