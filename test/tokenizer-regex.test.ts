/**
 * Split and Replace regexes are compiled and searched by Oniguruma, as tokenizers does: fuzzing
 * of the causal-LM rerankers' tokenizers (Qwen2/Qwen3 and Llama-3: the GPT-4-style Split regex
 * with \p{L}, \p{N}, a case-insensitive group and a look-ahead) against npm `tokenizers`, and of
 * the regex features real files could use (look-behind, empty matches, case folding, scripts,
 * POSIX brackets, back-references, lazy quantifiers) in Split (every behavior, inverted) and
 * Replace. Ids must be identical.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as hf from 'tokenizers';
import { Tokenizer } from '../lib/tokenizer';
import { projectPython } from '../scripts/torch-python.mjs';
import {
  HAVE_SHARED, REPO_ROOT, SHARED_DATA, familyTokenizers, hfPairs, hfSingles, multilingualTexts, prng, readJsonl, tempDir, type Ref,
} from './helpers/hf-reference';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];
// \p{N} is Nd, Nl and No: ASCII, Arabic-Indic, Devanagari, fullwidth digits, Roman numerals,
// superscripts, circled and vulgar-fraction numbers.
const DIGITS = ['0123456789', '٠١٢٣٤٥٦٧٨٩', '०१२३४५६७८९', '０１２３４５６７８９', 'ⅠⅡⅢⅫ', '²³¹', '①②⑳', '½¾'];
const SPACES = [' ', ' ', ' ', '\t', '\n', '\r', '\r\n', '\u000b', '\u000c', '\u00a0', '\u0085', '\u1680', '\u2000', '\u2028', '\u2029', '\u202f', '\u3000', '\u200b', '\ufeff'];
const SPECIAL_FRAGMENTS = [
  '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<think>', '</think>', '<tool_call>', '<|begin_of_text|>', '<|eot_id|>',
  '<|start_header_id|>', '<|reserved_special_token_2|>', '<|im_', 'im_start|>', '<|', '|>', '<|im_start|', '<think', '<<|im_end|>>',
];
const WORDS = multilingualTexts().join(' ').split(/\s+/).filter((w) => w.length > 0);

/**
 * Whether a code point was assigned after Unicode 14.0. Debian 12's Oniguruma (6.9.8) has Unicode
 * 14.0 tables, the one inside tokenizers 0.23 (onig crate 6.5) Unicode 16.0, so \p{L}, \p{N},
 * scripts and POSIX classes differ on the ~10,000 characters assigned in Unicode 15.0-16.0
 * (docs/TOKENIZER.md, "Split and Replace regexes"); the fuzzer leaves them out. Unassigned in
 * Python's Unicode 14.0 tables but assigned in Node's (newer) ones: assigned since.
 */
function assignedAfterUnicode14(): (cp: number) => boolean {
  const python = projectPython('st6');
  if (!python) return () => false;
  const r = spawnSync(python, ['-c', [
    'import json, sys, unicodedata',
    'assert unicodedata.unidata_version == "14.0.0", unicodedata.unidata_version',
    'print(json.dumps([c for c in range(0x110000) if unicodedata.category(chr(c)) == "Cn"]))',
  ].join('\n')], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`Unicode 14.0 tables from ${python}: ${r.stderr}`);
  const unassigned14 = new Set(JSON.parse(r.stdout) as number[]);
  const unassignedNow = /^\p{Cn}$/u;
  return (cp) => unassigned14.has(cp) && !unassignedNow.test(String.fromCodePoint(cp));
}
const isNewerThanUnicode14 = assignedAfterUnicode14();

/** A random character from the whole code space (no surrogates), weighted towards assigned blocks. */
function randomChar(rand: () => number): string {
  const r = rand();
  let cp: number;
  if (r < 0.3) cp = 0x20 + Math.floor(rand() * 0x5f);
  else if (r < 0.7) cp = Math.floor(rand() * 0x3000);
  else if (r < 0.9) cp = Math.floor(rand() * 0x30000);
  else cp = Math.floor(rand() * 0x110000);
  if ((cp >= 0xd800 && cp <= 0xdfff) || isNewerThanUnicode14(cp)) cp = 0x61;
  return String.fromCodePoint(cp);
}

/** Case changes a contraction could get; ſ (long s) and K (Kelvin sign) fold to s and k. */
function randomCase(rand: () => number, s: string): string {
  return Array.from(s).map((c) => {
    const r = rand();
    if (c === 's' && r < 0.1) return 'ſ';
    return r < 0.5 ? c.toUpperCase() : c;
  }).join('');
}

function fuzzText(rand: () => number): string {
  const parts: string[] = [];
  const n = 1 + Math.floor(rand() * 30);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.2) parts.push(randomChar(rand));
    else if (r < 0.35) parts.push(pick(rand, WORDS));
    else if (r < 0.45) {
      // After a word or alone; sometimes with a typographic apostrophe, which is no contraction.
      const c = randomCase(rand, pick(rand, CONTRACTIONS));
      parts.push((rand() < 0.5 ? pick(rand, WORDS) : '') + (rand() < 0.15 ? c.replace("'", '’') : c));
    }
    else if (r < 0.55) {
      const d = Array.from(pick(rand, DIGITS));
      const len = 1 + Math.floor(rand() * 9);
      let run = '';
      for (let k = 0; k < len; k++) run += pick(rand, d);
      parts.push(run);
    } else if (r < 0.7) {
      const len = 1 + Math.floor(rand() * 5);
      let run = '';
      for (let k = 0; k < len; k++) run += pick(rand, SPACES);
      parts.push(run);
    } else if (r < 0.8) parts.push(pick(rand, SPECIAL_FRAGMENTS));
    else if (r < 0.87) parts.push(pick(rand, ['e\u0301', 'A\u030a', '\u1100\u1161\u11a8', 'ﬁ', 'Å', 'ǅ', 'İ', 'ß', 'ΐ']));
    else if (r < 0.93) parts.push(pick(rand, ['!!', '...', '?!', '—', '«»', '$$', '#', '@', '**', '(', ')', '\u{1F469}\u200D\u{1F4BB}', '🇫🇷']));
    else parts.push(pick(rand, ['K', 'k', 'S', 'T', 'Ⅻ']));
  }
  return parts.join(rand() < 0.6 ? '' : ' ');
}

function idDiffs(ours: Array<{ ids: Int32Array; typeIds: Int32Array }>, ref: Ref[], inputs: unknown[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    if (Array.from(ours[i]!.ids).join() !== ref[i]!.ids.join() || Array.from(ours[i]!.typeIds).join() !== ref[i]!.typeIds.join()) {
      out.push(`${JSON.stringify(inputs[i]).slice(0, 200)}\n  ours: ${Array.from(ours[i]!.ids).join(' ')}\n  hf:   ${ref[i]!.ids.join(' ')}`);
    }
  }
  return out.slice(0, 10);
}

const rand = prng(25);
const FUZZ = Array.from({ length: 800 }, () => fuzzText(rand));
const FUZZ_PAIRS: Array<[string, string]> = FUZZ.map((t, i) => [t, FUZZ[(i * 13 + 5) % FUZZ.length]!]);
const scratch = tempDir('tce-tok-regex-');

describe('fuzzing the Qwen2/Qwen3 and Llama-3 tokenizers against tokenizers', () => {
  const built = familyTokenizers('st6');
  if ('skip' in built) {
    it.skip(`skipped: ${built.skip}`, () => {});
    return;
  }
  for (const family of ['qwen2', 'llama3']) {
    describe(family, () => {
      const file = path.join(built.dir, family, 'tokenizer.json');
      it(`${FUZZ.length} random texts, with and without special tokens`, async () => {
        const ours = Tokenizer.fromModelDir(path.join(built.dir, family));
        const ref = hf.Tokenizer.fromFile(file);
        expect(idDiffs(await ours.encodeBatch(FUZZ), await hfSingles(ref, FUZZ, 0), FUZZ)).toEqual([]);
        for (const t of FUZZ.slice(0, 200)) {
          const r = await ref.encode(t, null, { addSpecialTokens: false });
          expect(Array.from(ours.encode(t, null, { addSpecialTokens: false }).ids), JSON.stringify(t)).toEqual(r.getIds());
        }
      });
      for (const maxLength of [0, 48, 7]) {
        it(`${FUZZ_PAIRS.length} random pairs, maxLength ${maxLength || 'none'}`, async () => {
          const ours = Tokenizer.fromModelDir(path.join(built.dir, family));
          const theirs = await hfPairs(hf.Tokenizer.fromFile(file), hf.Tokenizer.fromFile(file), FUZZ_PAIRS, maxLength);
          expect(idDiffs(await ours.encodeBatch(FUZZ_PAIRS, maxLength ? { maxLength } : {}), theirs, FUZZ_PAIRS)).toEqual([]);
        });
      }
      it('concurrent batches on the thread pool give the same ids as one thread (regexes shared across threads)', async () => {
        const ours = Tokenizer.fromModelDir(path.join(built.dir, family));
        const expected = FUZZ.map((t) => Array.from(ours.encode(t).ids).join());
        const batches = await Promise.all(Array.from({ length: 4 }, () => ours.encodeBatch(FUZZ)));
        for (const batch of batches) expect(batch.map((e) => Array.from(e.ids).join())).toEqual(expected);
      });
    });
  }
});

describe('the Qwen2/Qwen3 and Llama-3 tokenizers on all of ../shared/data', () => {
  const built = familyTokenizers('st6');
  if ('skip' in built || !HAVE_SHARED) {
    it.skip(`skipped: ${'skip' in built ? built.skip : 'no ../shared/data'}`, () => {});
    return;
  }
  const abstracts = readJsonl<{ text: string }>(path.join(SHARED_DATA, 'pubmed_abstracts.jsonl')).map((r) => r.text);
  const bioasq = readJsonl<{ query: string; document: string }>(path.join(SHARED_DATA, 'bioasq_pairs.jsonl'));
  const pairs: Array<[string, string]> = bioasq.map((r) => [r.query, r.document]);
  for (const family of ['qwen2', 'llama3']) {
    const file = path.join(built.dir, family, 'tokenizer.json');
    for (const maxLength of [0, 512, 128]) {
      it(`${family}: ${abstracts.length} PubMed abstracts and ${pairs.length} BioASQ pairs, maxLength ${maxLength || 'none'}`, async () => {
        const ours = Tokenizer.fromModelDir(path.join(built.dir, family));
        const ref = hf.Tokenizer.fromFile(file);
        const opts = maxLength ? { maxLength } : {};
        expect(idDiffs(await ours.encodeBatch(abstracts, opts), await hfSingles(ref, abstracts, maxLength), abstracts)).toEqual([]);
        const theirs = await hfPairs(ref, hf.Tokenizer.fromFile(file), pairs, maxLength);
        expect(idDiffs(await ours.encodeBatch(pairs, opts), theirs, pairs)).toEqual([]);
      });
    }
  }
});

describe('regex features in Split and Replace, matched as Oniguruma matches them', () => {
  const built = familyTokenizers('st6');
  if ('skip' in built) {
    it.skip(`skipped: ${built.skip}`, () => {});
    return;
  }
  const base = JSON.parse(fs.readFileSync(path.join(built.dir, 'qwen2', 'tokenizer.json'), 'utf8')) as Json;
  const texts = [
    ...FUZZ.slice(0, 300), 'camelCaseWord HTTPServer', 'Straße STRASSE strasse', 'abba aaa b', '漢字とひらがなとカタカナ', 'x1y22z333',
    'aa bb cc dd', 'line1\r\nline2\nline3\rline4', "Don't, WON'T", '', ' ',
  ];
  // [description, regex, whether it matches empty strings]: features beyond the GPT-4-style
  // pattern. tokenizers' Replace panics (index out of bounds in normalizer.rs) on an empty match
  // at the end of a text, so those are compared as Split patterns only.
  const regexes: Array<[string, string, boolean?]> = [
    ['look-behind and look-ahead, empty matches (camelCase boundaries)', '(?<=[a-z])(?=[A-Z])', true],
    ['a pattern that matches the empty string everywhere', 'a*', true],
    ['word boundaries', '\\b', true],
    ['case-insensitive with multi-character folding (ß, ss)', '(?i)straße|k+'],
    ['script properties', '\\p{Han}+|\\p{Hiragana}+|\\p{Katakana}+'],
    // ([[:punct:]] is left out: Oniguruma 6.9.9 added $+<=>^`|~ to it, so 6.9.8 and tokenizers differ.)
    ['POSIX brackets and class intersection', '[[:alpha:]]+|[[:space:]]|[\\w&&[^\\d]]+'],
    ['back-references and lazy quantifiers', '(\\w)\\1|\\d{2,}?'],
    ['negative look-behind, \\R and \\X', '(?<!\\d)\\d{2}|\\R|\\X(?=\\n)'],
    ['the GPT-2 split as a Split regex', "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"],
  ];
  const behaviors = ['Isolated', 'Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'].flatMap((b) => [[b, false], [b, true]] as Array<[string, boolean]>);
  const check = async (name: string, edit: (j: Json) => void) => {
    const json = structuredClone(base);
    edit(json);
    const dir = path.join(scratch, name.replace(/[^a-z0-9]+/gi, '-'));
    const file = path.join(dir, 'tokenizer.json');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(json));
    // tokenizer_config.json names the padding token (<|endoftext|>).
    fs.copyFileSync(path.join(built.dir, 'qwen2', 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
    const ours = await Tokenizer.fromModelDir(dir).encodeBatch(texts);
    const theirs = await hfSingles(hf.Tokenizer.fromFile(file), texts, 0);
    return idDiffs(ours, theirs, texts);
  };
  for (const [what, regex, empty] of regexes) {
    it(`${what}: Split with every behavior (inverted too)${empty ? '' : ' and Replace'}`, async () => {
      for (const [behavior, invert] of behaviors) {
        const diffs = await check(`${regex}-${behavior}-${invert}`, (j) => {
          j.pre_tokenizer.pretokenizers[0] = { type: 'Split', pattern: { Regex: regex }, behavior, invert };
        });
        expect(diffs, `${behavior}${invert ? ' inverted' : ''}`).toEqual([]);
      }
      if (empty) return;
      const diffs = await check(`${regex}-replace`, (j) => {
        j.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: regex }, content: '_' }] };
      });
      expect(diffs, 'Replace').toEqual([]);
    });
  }
});

describe('without Oniguruma (the addon dlopen()s it at the first regex, never links it)', () => {
  it('the addon does not need libonig: no DT_NEEDED entry names it', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = (require('node-gyp-build') as { resolve: (dir: string) => string }).resolve(REPO_ROOT);
    const dynamic = spawnSync('readelf', ['-d', addon], { encoding: 'utf8' });
    expect(dynamic.status, dynamic.stderr).toBe(0);
    const needed = dynamic.stdout.split('\n').filter((l) => l.includes('(NEEDED)'));
    expect(needed.length).toBeGreaterThan(0);
    expect(needed.filter((l) => /onig/i.test(l))).toEqual([]);
  });

  const built = familyTokenizers('st6');
  if ('skip' in built) {
    it.skip(`skipped: ${built.skip}`, () => {});
    return;
  }
  it('BERT and XLM-R tokenizers still work; a Qwen2 tokenizer fails with TCE_TOKENIZER_FILE saying to install libonig5', async () => {
    const bert = path.join(REPO_ROOT, 'models', 'biomed-minilm-ce');
    const xlmr = path.join(built.dir, 'xlmr');
    const qwen2 = path.join(built.dir, 'qwen2');
    const texts = ['Aspirin inhibits COX-1 and COX-2.', "I'M sure 1234 ١٢٣ straße", '漢字 <mask> x'];
    // A separate process: Oniguruma, once loaded, stays loaded, and TCE_ONIG_LIBRARY is read at the
    // first regex. The compiled package (dist/) is what users load.
    const script = `
      const { Tokenizer } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'index.js'))});
      const texts = ${JSON.stringify(texts)};
      const error = (e) => ({ code: e.code, message: e.message });
      (async () => {
        const out = {};
        for (const [name, dir] of [['bert', ${JSON.stringify(bert)}], ['xlmr', ${JSON.stringify(xlmr)}]]) {
          out[name] = texts.map((t) => Array.from(Tokenizer.fromModelDir(dir).encode(t).ids));
        }
        try { Tokenizer.fromModelDir(${JSON.stringify(qwen2)}); out.qwen2 = 'loaded'; } catch (e) { out.qwen2 = error(e); }
        out.qwen2Async = await Tokenizer.loadFromModelDir(${JSON.stringify(qwen2)}).then(() => 'loaded', error);
        console.log(JSON.stringify(out));
      })();`;
    const child = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8', env: { ...process.env, TCE_ONIG_LIBRARY: '/nonexistent/libonig.so.5' },
    });
    expect(child.status, child.stderr).toBe(0);
    const out = JSON.parse(child.stdout) as { bert: number[][]; xlmr: number[][]; qwen2: unknown; qwen2Async: unknown };
    for (const [name, dir] of [['bert', bert], ['xlmr', xlmr]] as const) {
      const ref = hf.Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
      const expected = await Promise.all(texts.map(async (t) => (await ref.encode(t)).getIds()));
      expect(out[name], name).toEqual(expected);
    }
    for (const failure of [out.qwen2, out.qwen2Async]) {
      expect(failure).toMatchObject({ code: 'TCE_TOKENIZER_FILE' });
      const message = (failure as { message: string }).message;
      expect(message).toContain('Split or Replace regex');
      expect(message).toContain('/nonexistent/libonig.so.5');
      expect(message).toContain("Install Debian/Ubuntu's libonig5: apt install libonig5");
      expect(message).toContain('Qwen2/Qwen3 and Llama-3');
    }
  });

  const cc = spawnSync('cc', ['--version']).status === 0;
  it.skipIf(!cc)(`an Oniguruma of another major version is refused${cc ? '' : ' (skipped: no C compiler, cc)'}`, () => {
    // A stand-in library that only answers onig_version() with 7.0.0.
    const dir = tempDir('tce-onig7-');
    const source = path.join(dir, 'onig7.c');
    const library = path.join(dir, 'libonig.so.7');
    fs.writeFileSync(source, 'const char* onig_version(void) { return "7.0.0"; }\n');
    const compiled = spawnSync('cc', ['-shared', '-fPIC', '-o', library, source], { encoding: 'utf8' });
    expect(compiled.status, compiled.stderr).toBe(0);
    const script = `
      const { Tokenizer } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'index.js'))});
      try { Tokenizer.fromModelDir(${JSON.stringify(path.join(built.dir, 'qwen2'))}); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, TCE_ONIG_LIBRARY: library } });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(child.status, child.stderr).toBe(0);
    const failure = JSON.parse(child.stdout) as { code: string; message: string };
    expect(failure.code).toBe('TCE_TOKENIZER_FILE');
    expect(failure.message).toContain(`The Oniguruma library ${library} is version 7.0.0, but the addon was built for version 6.x`);
    expect(failure.message).toContain('apt install libonig5');
  });
});
