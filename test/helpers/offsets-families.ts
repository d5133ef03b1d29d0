/**
 * The tokenizers the offsets parity runs on: BERT WordPiece (vocab.txt and tokenizer.json with each
 * BertNormalizer setting), the family files of scripts/make-family-fixtures.py (XLM-R, DeBERTa-v3,
 * ModernBERT, Qwen2, Llama-3, as transformers 5 and 4.51 convert them) and edits of them that real
 * files use or that put every normalizer, pre-tokenizer and post-processor on the path (RoBERTa's
 * RobertaProcessing with and without trim_offsets, byte-level post-processors, NFKD/NFKC/NFD,
 * StripAccents, Replace, Prepend, Strip, Lowercase, Split, Digits, Punctuation, ...).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as hf from 'tokenizers';
import { Tokenizer } from '../../lib/tokenizer';
import { VOCABS, bertTokenizerJson, familyTokenizers, hfFromJson, readVocab, tempDir, type NormalizerFlags } from './hf-reference';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface OffsetsFamily {
  name: string;
  ours: () => Tokenizer;
  /** A fresh reference instance each call (truncation is set per instance). */
  ref: () => hf.Tokenizer;
}

const scratch = tempDir('tce-tok-offsets-');

function bert(vocabName: keyof typeof VOCABS, flags: NormalizerFlags): OffsetsFamily {
  const json = bertTokenizerJson(readVocab(VOCABS[vocabName]), flags);
  const file = path.join(scratch, `bert-${vocabName}-${Object.entries(flags).map(([k, v]) => `${k}-${v}`).join('-') || 'default'}`, 'tokenizer.json');
  return {
    name: `BERT ${vocabName} tokenizer.json ${JSON.stringify(flags)}`,
    ours: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(json));
      return Tokenizer.fromFile(file);
    },
    ref: () => hfFromJson(json),
  };
}

function edited(name: string, source: string, edit: (json: Json) => void, withConfig = false): OffsetsFamily {
  const file = path.join(scratch, name.replace(/[^a-z0-9]+/gi, '-'), 'tokenizer.json');
  const write = () => {
    if (fs.existsSync(file)) return;
    const json = JSON.parse(fs.readFileSync(source, 'utf8')) as Json;
    edit(json);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(json));
    if (withConfig) fs.copyFileSync(path.join(path.dirname(source), 'tokenizer_config.json'), path.join(path.dirname(file), 'tokenizer_config.json'));
  };
  return {
    name,
    ours: () => {
      write();
      return withConfig ? Tokenizer.fromModelDir(path.dirname(file)) : Tokenizer.fromFile(file);
    },
    ref: () => {
      write();
      return hf.Tokenizer.fromFile(file);
    },
  };
}

export function bertFamilies(): OffsetsFamily[] {
  return [
    {
      name: 'BERT biomedbert vocab.txt (uncased defaults)',
      ours: () => Tokenizer.fromFile(VOCABS.biomedbert),
      ref: () => hfFromJson(bertTokenizerJson(readVocab(VOCABS.biomedbert))),
    },
    bert('bert-base-uncased', {}),
    bert('biomedbert', { lowercase: false }),
    bert('biomedbert', { stripAccents: false }),
    bert('biomedbert', { lowercase: false, stripAccents: true }),
    bert('bert-base-uncased', { cleanText: false, handleChineseChars: false }),
  ];
}

/** The family files and their variants, or the reason they are missing. */
export function convertedFamilies(env: 'st6' | 'st41'): OffsetsFamily[] | { skip: string } {
  const built = familyTokenizers(env);
  if ('skip' in built) return built;
  const label = env === 'st6' ? 'transformers 5' : 'transformers 4.51';
  const json = (f: string) => path.join(built.dir, f, 'tokenizer.json');
  const out: OffsetsFamily[] = ['xlmr', 'deberta-v3', 'modernbert', 'qwen2', 'llama3'].map((f) => ({
    name: `${f} (${label})`,
    ours: () => Tokenizer.fromModelDir(path.join(built.dir, f)),
    ref: () => hf.Tokenizer.fromFile(json(f)),
  }));
  if (env !== 'st41') return out;
  const roberta = (j: Json, trimOffsets: boolean) => {
    j.normalizer = null;
    j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: trimOffsets, use_regex: true };
    j.post_processor = { type: 'RobertaProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1], trim_offsets: trimOffsets, add_prefix_space: true };
  };
  out.push(
    edited('RoBERTa (byte-level BPE, prefix space, RobertaProcessing trim_offsets)', json('modernbert'), (j) => roberta(j, true)),
    edited('RoBERTa without trim_offsets', json('modernbert'), (j) => roberta(j, false)),
    edited('xlmr with RobertaProcessing', json('xlmr'), (j) => {
      j.post_processor = { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: true };
    }),
    edited('xlmr with Strip and Metaspace prepend_scheme first', json('xlmr'), (j) => {
      j.normalizer = { type: 'Sequence', normalizers: [{ type: 'Strip', strip_left: true, strip_right: false }, j.normalizer] };
      j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true }] };
    }),
    edited('deberta-v3 with byte_fallback', json('deberta-v3'), (j) => {
      j.model.byte_fallback = true;
    }),
    edited('deberta-v3 with Punctuation and Lowercase', json('deberta-v3'), (j) => {
      j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Punctuation', behavior: 'Isolated' }, j.pre_tokenizer] };
      j.normalizer = { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, j.normalizer] };
    }),
    edited('modernbert with Sequence[ByteLevel, Template]', json('modernbert'), (j) => {
      j.post_processor = { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, j.post_processor] };
    }),
    edited('byte-level BPE without regex, ByteLevel post-processor', json('modernbert'), (j) => {
      j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };
      j.post_processor = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
    }),
    edited('qwen2 with ignore_merges', json('qwen2'), (j) => {
      j.model.ignore_merges = true;
    }, true),
    edited('llama3 without ignore_merges, NFC', json('llama3'), (j) => {
      j.model.ignore_merges = false;
      j.normalizer = { type: 'NFC' };
    }, true),
    edited('Unigram with NFKD, StripAccents, Replace, Prepend, NFC; Split, Digits, Whitespace', json('xlmr'), (j) => {
      j.normalizer = { type: 'Sequence', normalizers: [
        { type: 'NFKD' }, { type: 'StripAccents' }, { type: 'Replace', pattern: { String: '``' }, content: '"' },
        { type: 'Replace', pattern: { Regex: '[\\n\\t]+|\\s{3,}' }, content: ' ' }, { type: 'Prepend', prepend: '▁' }, { type: 'NFC' },
      ] };
      j.pre_tokenizer = { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { Regex: '\\d+' }, behavior: 'Isolated', invert: false },
        { type: 'Digits', individual_digits: true }, { type: 'Whitespace' },
      ] };
    }),
    edited('Unigram with NFKC, Strip, NFD; WhitespaceSplit, Split, Metaspace', json('xlmr'), (j) => {
      j.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Strip', strip_left: true, strip_right: true }, { type: 'NFD' }] };
      j.pre_tokenizer = { type: 'Sequence', pretokenizers: [
        { type: 'WhitespaceSplit' }, { type: 'Split', pattern: { String: '-' }, behavior: 'MergedWithPrevious', invert: false },
        { type: 'Split', pattern: { Regex: '\\w+' }, behavior: 'Contiguous', invert: true },
        { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false },
      ] };
    }),
  );
  return out;
}
