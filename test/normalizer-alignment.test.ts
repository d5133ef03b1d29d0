/**
 * The normalizers' alignments (native/tokenizer/normalizers: which range of the input each output
 * byte came from) against tokenizers' NormalizedString alignments, normalizer by normalizer, before
 * any pre-tokenizer or model is involved. test/native/normalizer_alignment.cc runs ours (built here
 * with the system compiler under ASan and UBSan); test/helpers/normalizer_alignment.py reads
 * tokenizers' from an encoding that isolates every normalized character. Each case must give the
 * same normalized text and, for every normalized character, the same range.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot } from './helpers/child';
import { familyTokenizers, multilingualTexts, prng, readJsonl } from './helpers/hf-reference';
import { projectPython } from '../scripts/torch-python.mjs';

const compiler = process.env.CXX ?? 'g++';
const python = projectPython('st6');
const reason =
  spawnSync(compiler, ['--version']).status !== 0 ? `no C++ compiler (${compiler}) to build the alignment driver`
  : python === null ? 'no .venv with tokenizers (run scripts/setup.sh)'
  : null;
if (reason) console.warn(`normalizer alignment test skipped: ${reason}`);

type Json = Record<string, unknown>;
const bert = (flags: Json = {}): Json => ({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true, ...flags });

/** Every kind of normalizer, with the settings that change its alignment. */
const NORMALIZERS: Record<string, Json> = {
  'bert': bert(),
  'bert cased': bert({ lowercase: false }),
  'bert, accents stripped, cased': bert({ lowercase: false, strip_accents: true }),
  'bert, no clean text, no CJK spacing': bert({ clean_text: false, handle_chinese_chars: false }),
  'NFC': { type: 'NFC' },
  'NFD': { type: 'NFD' },
  'NFKC': { type: 'NFKC' },
  'NFKD': { type: 'NFKD' },
  'Lowercase': { type: 'Lowercase' },
  'Strip': { type: 'Strip', strip_left: true, strip_right: true },
  'Strip left': { type: 'Strip', strip_left: true, strip_right: false },
  'Strip right': { type: 'Strip', strip_left: false, strip_right: true },
  'StripAccents': { type: 'StripAccents' },
  'Replace, longer': { type: 'Replace', pattern: { String: 'e' }, content: 'EE' },
  'Replace by nothing': { type: 'Replace', pattern: { String: ' ' }, content: '' },
  'Replace, regex': { type: 'Replace', pattern: { Regex: '\\s+' }, content: '\u2581' },
  'Replace, empty matches': { type: 'Replace', pattern: { Regex: 'x*' }, content: '_' },
  'Prepend': { type: 'Prepend', prepend: '\u2581' },
  'Prepend, two characters': { type: 'Prepend', prepend: 'ab' },
  'Prepend nothing': { type: 'Prepend', prepend: '' },
  'Sequence NFD, StripAccents, Lowercase': { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] },
  'Sequence Strip, Replace, Prepend (sentencepiece style)': {
    type: 'Sequence',
    normalizers: [{ type: 'Strip', strip_left: true, strip_right: true }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }, { type: 'Prepend', prepend: '\u2581' }],
  },
  'Sequence Replace by nothing, then Prepend': {
    type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: '^\\s+' }, content: '' }, { type: 'Prepend', prepend: '\u2581' }],
  },
  'empty Sequence': { type: 'Sequence', normalizers: [] },
};

/** Characters that exercise every rule: marks of several combining classes (reordering, Mn and
 *  Mc), precomposed and compatibility characters, Hangul, CJK, case expansions, controls, format
 *  characters, emoji clusters and characters a sentencepiece charsmap rewrites. All are from
 *  Unicode 8.0 or earlier, so both sides' tables agree on them. */
const POOL = [
  ...'aAeEiIxX zZ.,', '\t', '\n', '  ',
  ...[0x300, 0x301, 0x302, 0x316, 0x323, 0x327, 0x345, 0x5b0, 0xf71, 0xf72, 0xf74, 0xf80, 0x1d165, 0x1d16e, 0x302e, 0x94d, 0x93c, 0x334, 0x338, 0x20d2, 0x3099, 0x309a].map((c) => String.fromCodePoint(c)),
  ...'éǖẹÅΩΐ', '\u212b', '\u2126', '\u1100', '\u1161', '\u11a8', '\uac00', '\uac01', '\u4e2d', '\uf900', '\u3000', '\ufb01', '\u2122', '\u00bd', '\u338f',
  '\u2460', '\uff21', '\ufdfa', '\u0130', '\u00df', '\u03a3', '\x01', '\x7f', '\u200b', '\u200d', '\u{1F44D}', '\u{1F3FD}', '\u{1F1FA}', '\u{1F1F8}', '\x1e', '\ufffd',
  '\u{20000}', '\u0344', '\u0958', '\u2000', '\u00a0', '\u0149', '\u01c4', '\u1e9e', '\u0e33', '\u0eb3', '\u304b',
];

function texts(): string[] {
  const fixtures = path.join(repoRoot, 'test', 'fixtures', 'tokenizer');
  const rand = prng(29);
  const random = Array.from({ length: 300 }, () => Array.from({ length: 1 + Math.floor(rand() * 24) }, () => POOL[Math.floor(rand() * POOL.length)]).join(''));
  return [
    '', ' ', '  a  ', 'e\u0301', 'a\u0301\u0323b', '\u1e0b\u0323', '\u0301\u0f73x', '\u0130stanbul', '\u4e2d\u6587ab', 'x\x00y\ufffdz\u200b',
    '\u0338\u0323\u200d\x01\u{1D165} x', '\x1eg\u2122\x1e', '  \u2122  ', '\u1100\u1161\u11a8 \uac00\u11a8', 'q\u0307\u0323', '\u00c5\u0327', '\uac00\u11a7', '\u1100\u1161\u11a7\u11a8',
    ...readJsonl<{ text: string }>(path.join(fixtures, 'unicode_edge_cases_sample.jsonl')).map((r) => r.text),
    ...readJsonl<{ text: string }>(path.join(fixtures, 'pubmed_sample.jsonl')).slice(0, 10).map((r) => r.text.slice(0, 600)),
    ...multilingualTexts(),
    ...random,
  ];
}

interface Outcome { normalized: string; ranges: Array<[number, number]> }

/** tokenizers' normalized text and per-character ranges (UTF-8 bytes of the text) for each
 *  normalizer and then each text. */
function reference(normalizers: Json[], texts: string[]): Array<Outcome | { error: string }> {
  const run = spawnSync(python!, [path.join(repoRoot, 'test', 'helpers', 'normalizer_alignment.py')], { input: JSON.stringify({ normalizers, texts }), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.status !== 0) throw new Error(`normalizer_alignment.py failed:\n${run.stderr.slice(-4000)}`);
  return JSON.parse(run.stdout);
}

/** Ours, read back per character; a character whose bytes disagree on their range is reported. */
function ours(binary: string, normalizers: Json[], texts: string[]): Array<Outcome | { error: string }> {
  const hex = texts.map((t) => `${Buffer.from(t, 'utf8').toString('hex')}\n`).join('');
  const input = normalizers.map((n) => `${JSON.stringify(n)}\n${hex}`).join('');
  const run = spawnSync(binary, [], {
    input, encoding: 'utf8', maxBuffer: 1 << 28,
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
  });
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  // One line per text; an empty line is an empty normalized text.
  return run.stdout.replace(/\n$/, '').split('\n').map((line) => {
    if (line.startsWith('error') || line.startsWith('mismatch')) return { error: line };
    const [hex, drops, ...rest] = line.split(' ');
    const bytes = Buffer.from(hex!, 'hex');
    const perByte = rest.map((r) => r.split(':').map(Number) as [number, number]);
    const ranges: Array<[number, number]> = [];
    const normalized = bytes.toString('utf8');
    let at = 0;
    for (const ch of normalized) {
      const len = Buffer.byteLength(ch, 'utf8');
      const first = perByte[at]!;
      for (let i = 1; i < len; i++) {
        if (perByte[at + i]!.join() !== first.join()) return { error: `the bytes of ${JSON.stringify(ch)} have different ranges` };
      }
      ranges.push(first);
      at += len;
    }
    if (at !== perByte.length) return { error: `${perByte.length} ranges for ${at} bytes` };
    // DropsStart must say whether the normalized text starts past offset 0, as the first
    // range does (checked against tokenizers' below); it has no say on an empty text.
    if (ranges.length > 0 && (drops === '1') !== (ranges[0]![0] !== 0)) return { error: `DropsStart says ${drops} with the first range ${ranges[0]!.join(':')}` };
    return { normalized, ranges };
  });
}

describe.skipIf(reason)('normalizer alignments against tokenizers', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tce-normalizer-alignment-'));
  const binary = path.join(out, 'normalizer_alignment');
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  beforeAll(() => {
    const dir = path.join(repoRoot, 'native', 'tokenizer');
    const sources = ['unicode.cc', 'json_value.cc', 'pattern.cc', 'onig_regex.cc', 'onig_library.cc', ...fs.readdirSync(path.join(dir, 'normalizers')).filter((f) => f.endsWith('.cc')).map((f) => `normalizers/${f}`)];
    const build = spawnSync(compiler, [
      '-std=c++17', '-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-DUTF8PROC_STATIC', `-I${path.join(repoRoot, 'native')}`,
      path.join(repoRoot, 'test', 'native', 'normalizer_alignment.cc'), ...sources.map((f) => path.join(dir, f)), '-l:libutf8proc.a', '-ldl', '-o', binary,
    ], { encoding: 'utf8' });
    expect({ status: build.status, stderr: build.stderr }).toEqual({ status: 0, stderr: '' });
  }, 600_000);

  function compare(normalizers: Record<string, Json>) {
    const all = texts();
    const names = Object.keys(normalizers);
    const want = reference(Object.values(normalizers), all);
    const got = ours(binary, Object.values(normalizers), all);
    const count = names.length * all.length;
    expect(got).toHaveLength(count);
    expect(want).toHaveLength(count);
    const differences: string[] = [];
    for (let i = 0; i < count; i++) {
      if (JSON.stringify(got[i]) === JSON.stringify(want[i])) continue;
      // A normalizer that neither side can build agrees, whatever the messages say.
      if ('error' in got[i]! && 'error' in want[i]! && got[i]!.error.startsWith('error')) continue;
      const text = all[i % all.length]!;
      if (differences.length < 10) {
        differences.push(`${names[Math.floor(i / all.length)]} on ${JSON.stringify(text)}: ours ${JSON.stringify(got[i])}, tokenizers ${JSON.stringify(want[i])}`);
      }
    }
    return { count, differences };
  }

  test(`${Object.keys(NORMALIZERS).length} normalizers on edge cases, PubMed, multilingual and 300 seeded random texts`, () => {
    const { count, differences } = compare(NORMALIZERS);
    expect(differences).toEqual([]);
    expect(count).toBeGreaterThan(Object.keys(NORMALIZERS).length * 300);
  }, 600_000);

  for (const env of ['st6', 'st41'] as const) {
    const families = familyTokenizers(env);
    test.skipIf('skip' in families)(`the normalizers of the family fixtures (${env}: XLM-R's Precompiled, DeBERTa-v3's, ModernBERT's, ...)`, () => {
      if ('skip' in families) return;
      const normalizers: Record<string, Json> = {};
      for (const name of fs.readdirSync(families.dir)) {
        const file = path.join(families.dir, name, 'tokenizer.json');
        if (!fs.existsSync(file)) continue;
        const normalizer = JSON.parse(fs.readFileSync(file, 'utf8')).normalizer as Json | null;
        if (normalizer) normalizers[name] = normalizer;
      }
      expect(Object.keys(normalizers).length).toBeGreaterThanOrEqual(3);
      const { differences } = compare(normalizers);
      expect(differences).toEqual([]);
    }, 600_000);
  }
});
