/**
 * The reference: Hugging Face's Rust tokenizer (npm `tokenizers`), set up the way transformers'
 * BertTokenizerFast sets it up or loaded from the tokenizer.json of another family, and the data
 * the comparisons run on.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as hf from 'tokenizers';
import { projectPython } from '../../scripts/torch-python.mjs';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/tokenizer');
/** The full corpora: ../shared/data relative to the repository root (present in CI). */
export const SHARED_DATA = path.resolve(REPO_ROOT, '../shared/data');
export const HAVE_SHARED = fs.existsSync(path.join(SHARED_DATA, 'pubmed_abstracts.jsonl'));

export const VOCABS = {
  biomedbert: path.join(FIXTURES, 'biomedbert_vocab.txt'),
  'bert-base-uncased': path.join(FIXTURES, 'bert_base_uncased_vocab.txt'),
} as const;
export type VocabName = keyof typeof VOCABS;

export function readJsonl<T>(file: string): T[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

export { bertTokenizerJson, readVocab } from '../../scripts/hf-bert-tokenizer.mjs';

/** BertNormalizer flags bertTokenizerJson takes. */
export interface NormalizerFlags {
  cleanText?: boolean;
  handleChineseChars?: boolean;
  stripAccents?: boolean | null;
  lowercase?: boolean;
}

export function hfFromJson(json: Record<string, unknown>): hf.Tokenizer {
  return hf.Tokenizer.fromString(JSON.stringify(json));
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Ref {
  ids: number[];
  typeIds: number[];
}

function ref(e: hf.Encoding): Ref {
  return { ids: e.getIds(), typeIds: e.getTypeIds() };
}

/** Single texts: HF's own truncation (maxLength 0 = none). */
export async function hfSingles(h: hf.Tokenizer, texts: string[], maxLength: number): Promise<Ref[]> {
  if (maxLength > 0) h.setTruncation(maxLength);
  else h.disableTruncation();
  try {
    return (await h.encodeBatch(texts)).map(ref);
  } finally {
    h.disableTruncation();
  }
}

/**
 * Pairs, with longest_first as tokenizers implements it in `truncate_encodings`: each segment is
 * encoded in full, then HF's own post_process (truncation + template) runs on them.
 *
 * tokenizers 0.23 added an early exit (PR #1990) that stops tokenizing each segment of a pair
 * once it holds max_length tokens (at a word boundary) *before* longest_first compares the
 * lengths; when both segments exceed max_length that can change which one gets the odd token.
 * `hfPairsDirect` is that path; `earlyExitLengths` reproduces its effect so the tests can show
 * that it is the only source of difference.
 */
export async function hfPairs(full: hf.Tokenizer, trunc: hf.Tokenizer, pairs: Array<[string, string]>, maxLength: number): Promise<Ref[]> {
  full.disableTruncation();
  if (maxLength > 0) trunc.setTruncation(maxLength);
  else trunc.disableTruncation();
  const out: Ref[] = [];
  const as = await full.encodeBatch(pairs.map((p) => p[0]), { addSpecialTokens: false });
  const bs = await full.encodeBatch(pairs.map((p) => p[1]), { addSpecialTokens: false });
  for (let i = 0; i < pairs.length; i++) out.push(ref(trunc.postProcess(as[i]!, bs[i]!, true)));
  trunc.disableTruncation();
  return out;
}

export async function hfPairsDirect(h: hf.Tokenizer, pairs: Array<[string, string]>, maxLength: number): Promise<Ref[]> {
  if (maxLength > 0) h.setTruncation(maxLength);
  else h.disableTruncation();
  try {
    return (await Promise.all(pairs.map((p) => h.encode(p[0], p[1])))).map(ref);
  } finally {
    h.disableTruncation();
  }
}

/** How many tokens of each segment 0.23's early exit leaves for longest_first to compare. */
export async function earlyExitCaps(full: hf.Tokenizer, pair: [string, string], maxLength: number): Promise<[number, number]> {
  full.disableTruncation();
  const caps: number[] = [];
  for (const text of pair) {
    const e = await full.encode(text, null, { addSpecialTokens: false });
    const words = e.getWordIds();
    let n = 0;
    while (n < words.length && n < maxLength) {
      const w = words[n];
      n++;
      while (n < words.length && words[n] === w && w !== null && w !== undefined) n++;
    }
    caps.push(n);
  }
  return [caps[0]!, caps[1]!];
}

/** longest_first on given lengths (tokenizers' truncate_encodings), for explaining differences. */
export function longestFirst(n1: number, n2: number, budget: number): [number, number] {
  if (n1 + n2 <= budget) return [n1, n2];
  let swap = false;
  let a = n1;
  let b = n2;
  if (a > b) {
    swap = true;
    [a, b] = [b, a];
  }
  b = a > budget ? a : Math.max(a, budget - a);
  if (a + b > budget) {
    a = Math.floor(budget / 2);
    b = a + (budget % 2);
  }
  return swap ? [b, a] : [a, b];
}

/** mulberry32: a small seeded PRNG, so adversarial inputs are the same on every run. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RANGES: Array<[number, number]> = [
  [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0xa0, 0xff], [0x100, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff],
  [0x600, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0xac00, 0xd7a3], [0x1100, 0x11ff], [0x1f300, 0x1f64f],
  [0x0, 0x1f], [0x7f, 0x9f], [0x300, 0x36f], [0x483, 0x489], [0x591, 0x5bd], [0x1ab0, 0x1abe], [0x20d0, 0x20f0],
  [0x2000, 0x206f], [0x3000, 0x303f], [0xff00, 0xffef], [0xe000, 0xe0ff], [0x1d400, 0x1d7ff], [0xe0000, 0xe007f],
];
const SINGLES = [
  0x0000, 0x200b, 0x200c, 0x200d, 0x00ad, 0xfeff, 0xfffd, 0x00a0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f,
  0x3000, 0x0085, 0x000b, 0x000c, 0x0009, 0x000a, 0x000d, 0x061c, 0x2060, 0x0130, 0x03a3, 0x03c2, 0x00df,
  0xfb01, 0x212b, 0x2126, 0x00b5, 0x03bc, 0x00b1, 0x00b0, 0x2265, 0x00d7, 0x0378, 0x10ffff, 0xe01ef,
  // CJK block edges, inside and just outside
  0x33ff, 0x3400, 0x4dbf, 0x4dc0, 0x4dff, 0x4e00, 0x9fff, 0xa000, 0xf8ff, 0xf900, 0xf902, 0xfaff, 0xfb00,
  0x1ffff, 0x20000, 0x2a6df, 0x2a6e0, 0x2a6ff, 0x2a700, 0x2b73f, 0x2b740, 0x2b81f, 0x2b820, 0x2b91f, 0x2b920,
  0x2ceaf, 0x2ceb0, 0x2f7ff, 0x2f800, 0x2f82b, 0x2fa1f, 0x2fa20, 0x30000,
];
const LITERALS = ['[SEP]', '[sep]', '[CLS]', '[cls]', '[PAD]', '[MASK]', '[UNK]', '[SEP][SEP]', ' [SEP] ', 'x[CLS]y', '[[SEP]]', '[SE P]', '##', '##ing'];

/** A random string mixing scripts, controls, marks, whitespace, special-token text, long words. */
export function adversarialText(rand: () => number, vocab: string[]): string {
  const parts: string[] = [];
  const n = Math.floor(rand() * 40);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.35) {
      const [a, b] = RANGES[Math.floor(rand() * RANGES.length)]!;
      let cp = a + Math.floor(rand() * (b - a + 1));
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
      parts.push(String.fromCodePoint(cp));
    } else if (r < 0.5) {
      parts.push(String.fromCodePoint(SINGLES[Math.floor(rand() * SINGLES.length)]!));
    } else if (r < 0.6) {
      parts.push(LITERALS[Math.floor(rand() * LITERALS.length)]!);
    } else if (r < 0.8) {
      const w = vocab[Math.floor(rand() * vocab.length)]!;
      parts.push(rand() < 0.3 ? w.toUpperCase() : w);
    } else if (r < 0.85) {
      // words around the 100-code-point limit, ASCII and not
      const len = 95 + Math.floor(rand() * 12);
      const ch = rand() < 0.5 ? 'a' : rand() < 0.5 ? 'é' : '\u{1d400}';
      parts.push(ch.repeat(len));
    } else if (r < 0.88) {
      parts.push(rand() < 0.5 ? '\ud800' : '\udfff'); // lone surrogates
    } else if (r < 0.9) {
      parts.push('e\u0301\u0327\u0300'); // marks to reorder and strip
    } else {
      parts.push(' ');
    }
  }
  return parts.join(rand() < 0.5 ? '' : ' ');
}

/**
 * The tokenizer directories of scripts/make-family-fixtures.py (XLM-R and DeBERTa-v3
 * sentencepiece Unigrams converted by transformers, a ModernBERT byte-level BPE), built once per
 * checkout and script version under test/fixtures/models/ by the project environment `env`
 * (.venv: transformers 5's converters; .venv-st41: transformers 4.51's, as most published
 * rerankers were saved). Returns null with the reason when that environment is missing.
 */
export function familyTokenizers(env: 'st6' | 'st41'): { dir: string } | { skip: string } {
  const python = projectPython(env);
  if (!python) return { skip: `no ${env === 'st6' ? '.venv' : '.venv-st41'} (run scripts/setup.sh)` };
  const script = path.join(REPO_ROOT, 'scripts', 'make-family-fixtures.py');
  const dir = path.join(REPO_ROOT, 'test', 'fixtures', 'models', `families-tokenizers-${env}`);
  const stamp = path.join(dir, '.built-from');
  const want = JSON.stringify({ script: fs.statSync(script).mtimeMs });
  if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want)) {
    fs.rmSync(dir, { recursive: true, force: true });
    const result = spawnSync(python, [script, 'tokenizers', '--out', dir], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`make-family-fixtures.py tokenizers failed:\n${result.stderr.slice(-4000)}`);
    fs.writeFileSync(stamp, want);
  }
  return { dir };
}

/** The texts of test/fixtures/families/multilingual.jsonl (Greek, CJK, Arabic, Devanagari, emoji, ...). */
export function multilingualTexts(): string[] {
  return readJsonl<{ text: string }>(path.join(REPO_ROOT, 'test', 'fixtures', 'families', 'multilingual.jsonl')).map((r) => r.text);
}
