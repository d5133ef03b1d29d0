/**
 * tokenizer.json edge cases the native tokenizer must take as Hugging Face's `tokenizers` does, or
 * refuse with a coded error: a BPE unk_token missing from the vocabulary, an enormous
 * max_input_chars_per_word, Precompiled charsmaps tokenizers cannot use, added_tokens whose ids
 * disagree with the vocabulary.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as hf from 'tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../lib/tokenizer';
import { projectPython } from '../scripts/torch-python.mjs';
import { VOCABS, bertTokenizerJson, readVocab, tempDir } from './helpers/hf-reference';

let dir: string;
beforeAll(() => {
  dir = tempDir('tce-tok-robust-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Writes tokenizer.json text (raw, so that numbers reach both tokenizers exactly as written). */
function load(text: string): Tokenizer {
  const file = path.join(dir, `t${n++}`, 'tokenizer.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return Tokenizer.fromFile(file);
}

const ids = (t: Tokenizer, s: string) => Array.from(t.encode(s).ids);
const hfIds = async (h: hf.Tokenizer, s: string) => (await h.encode(s)).getIds();

describe('BPE unk_token not in the vocabulary (as tokenizers: loads, fails only on text that needs it)', () => {
  const bpe = (unk: string | null, fuse = false) => JSON.stringify({
    version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: null, decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: unk, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: fuse,
      byte_fallback: false, vocab: { a: 0, b: 1, ab: 2, '[PAD]': 3 }, merges: ['a b'] },
  });

  for (const fuse of [false, true]) {
    it(`fuse_unk ${fuse}: known text encodes as tokenizers does; an unknown character is TCE_TOKENIZER_FILE where tokenizers errors too`, async () => {
      const text = bpe('<unk>', fuse);
      const ours = load(text);
      const ref = hf.Tokenizer.fromString(text);
      expect(ids(ours, 'ab a b ba')).toEqual(await hfIds(ref, 'ab a b ba'));
      expect(ids(ours, 'ab a b ba')).toEqual([2, 0, 1, 1, 0]);
      await expect(ref.encode('abc')).rejects.toThrow();
      expect(() => ours.encode('abc')).toThrow(expect.objectContaining({ code: 'TCE_TOKENIZER_FILE', message: expect.stringContaining('"<unk>"') }));
      await expect(ours.encodeBatch(['ab', 'xab'])).rejects.toMatchObject({ code: 'TCE_TOKENIZER_FILE' });
    });
  }

  it('unk_token null: unknown characters are dropped, as tokenizers drops them', async () => {
    const text = bpe(null);
    expect(ids(load(text), 'acb cc')).toEqual(await hfIds(hf.Tokenizer.fromString(text), 'acb cc'));
    expect(ids(load(text), 'acb cc')).toEqual([2]); // c dropped, then a + b merged
  });
});

describe('max_input_chars_per_word past any text (tokenizers reads a usize)', () => {
  const vocab = readVocab(VOCABS.biomedbert);
  const long = 'a'.repeat(300);
  const huge = (json: object) => JSON.stringify(json).replace('"max_input_chars_per_word":100', '"max_input_chars_per_word":9223372036854775807');

  it('9223372036854775807 loads and means no limit, on the plain BERT path and the pipeline path', async () => {
    const plain = bertTokenizerJson(vocab);
    const pipeline = { ...bertTokenizerJson(vocab), normalizer: { type: 'Lowercase' } };
    for (const json of [plain, pipeline]) {
      const text = huge(json);
      expect(text).toContain('9223372036854775807');
      const ours = load(text);
      const mine = ids(ours, `x ${long} y`);
      expect(mine).toEqual(await hfIds(hf.Tokenizer.fromString(text), `x ${long} y`));
      expect(mine.length).toBeGreaterThan(5); // split into pieces, not one [UNK]
    }
  });

  it('a negative value is a TCE_TOKENIZER_FILE error on the pipeline path', () => {
    const json = { ...bertTokenizerJson(vocab), normalizer: { type: 'Lowercase' } };
    const text = JSON.stringify(json).replace('"max_input_chars_per_word":100', '"max_input_chars_per_word":-1');
    expect(() => load(text)).toThrow(expect.objectContaining({ code: 'TCE_TOKENIZER_FILE', message: expect.stringContaining('max_input_chars_per_word') }));
  });
});

describe('Precompiled charsmap', () => {
  /**
   * A charsmap with one key, "a", whose replacement starts at byte `value` of the blob "é\0" (a
   * darts-clone trie: root unit 0 with offset 1; "a" at unit 1 ^ 0x61 = 96, a leaf whose value
   * unit is 96 ^ 98 = 2). 256 units, as darts-clone allocates them: tokenizers' reader indexes
   * the unit of every byte's first step (1 ^ byte) without a bounds check.
   */
  function charsmap(value: number): string {
    const units = new Uint32Array(256);
    units[0] = 1 << 10;
    units[96] = (98 << 10) | (1 << 8) | 0x61;
    units[2] = value;
    const blob = Buffer.from('é\0', 'utf8');
    const out = Buffer.alloc(4 + units.byteLength + blob.length);
    out.writeUInt32LE(units.byteLength, 0);
    Buffer.from(units.buffer).copy(out, 4);
    blob.copy(out, 4 + units.byteLength);
    return out.toString('base64');
  }
  const json = (value: number) => JSON.stringify({
    version: '1.0', added_tokens: [], pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: null, decoder: null,
    normalizer: { type: 'Precompiled', precompiled_charsmap: charsmap(value) },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: { '[UNK]': 0, a: 1, 'é': 2, x: 3, '\uFFFD': 4, '[PAD]': 5 } },
  });

  it('a replacement at a character maps "a" to "é", as tokenizers does (the crafted trie is valid)', async () => {
    const text = json(0);
    expect(ids(load(text), 'a x a')).toEqual(await hfIds(hf.Tokenizer.fromString(text), 'a x a'));
    expect(ids(load(text), 'a x a')).toEqual([2, 3, 2]);
  });

  /** A tokenizer.json of this test's WordPiece model with a Precompiled normalizer of the raw `bytes`. */
  const withMap = (bytes: Buffer) => json(0).replace(charsmap(0), bytes.toString('base64'));
  const units = (...values: number[]) => {
    const out = Buffer.alloc(4 + 4 * values.length);
    out.writeUInt32LE(4 * values.length, 0);
    values.forEach((v, i) => out.writeUInt32LE(v, 4 + 4 * i));
    return out;
  };
  const refused: Array<[string, string]> = [
    ['empty', withMap(Buffer.alloc(0))],
    ['a trie of no units', withMap(units())],
    ['a trie of two units (shorter than the 256 its first step indexes)', withMap(units(1 << 10, 0))],
    ['random bytes (a trie size past the end)', withMap(Buffer.from('9a1be3f07c5521d4e88b0a6f3c2d7e19', 'hex'))],
    ['a replacement starting on a UTF-8 continuation byte (inside "é")', json(1)],
  ];

  for (const [what, text] of refused) {
    it(`${what}: tokenizers fails on it (at load or on the first text), so it is TCE_TOKENIZER_FILE at load, naming the field`, () => {
      // npm tokenizers aborts the process on these maps: python's raises PanicException instead.
      expect(pythonTokenizersFails(text)).toBe(true);
      expect(() => load(text)).toThrow(expect.objectContaining({ code: 'TCE_TOKENIZER_FILE', message: expect.stringContaining('precompiled_charsmap') }));
    });
  }

  it("the xlm-roberta fixture's real charsmap (sentencepiece's nmt_nfkc) is still accepted", () => {
    const file = path.join(__dirname, 'fixtures', 'models', 'families-tokenizers-st6', 'xlmr', 'tokenizer.json');
    if (!fs.existsSync(file)) return void console.warn(`skipped: ${file} is built by test/families.models.test.ts`);
    expect(pythonTokenizersFails(fs.readFileSync(file, 'utf8'))).toBe(false);
    expect(Tokenizer.fromFile(file).encode('ｆｕｌｌ－ｗｉｄｔｈ Ⅻ').ids.length).toBeGreaterThan(2);
  });
});

/** Whether python `tokenizers` (the project's .venv) fails to load `text` or to encode "a x a" with it. */
function pythonTokenizersFails(text: string): boolean {
  const python = projectPython('st6');
  if (!python) throw new Error('no .venv python with tokenizers (scripts/setup.sh)');
  const script = [
    'import sys', 'from tokenizers import Tokenizer', 'try:',
    '    Tokenizer.from_str(sys.stdin.read()).encode("a x a")', '    print("ok")',
    'except BaseException:', '    print("failed")',
  ].join('\n');
  const r = spawnSync(python, ['-c', script], { input: text, encoding: 'utf8', env: { ...process.env, RUST_BACKTRACE: '0' } });
  if (!['ok', 'failed'].includes(r.stdout.trim())) throw new Error(`python tokenizers: ${r.stderr.slice(-2000)}`);
  return r.stdout.trim() === 'failed';
}

describe('Whitespace pre-tokenizer: \\w as Rust regex has it', () => {
  const text = JSON.stringify({
    version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: null,
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100,
      vocab: { '[UNK]': 0, '[PAD]': 1, a: 2, b: 3, 'Ⓐ': 4, '##Ⓐ': 5, '##b': 6, '\u200D': 7, '##\u200D': 8, '🅰': 9, '##🅰': 10 } },
  });

  it('circled / squared letters (Other_Alphabetic) and join controls are word characters: "aⒶb" is one word, as in tokenizers', async () => {
    const ours = load(text);
    const ref = hf.Tokenizer.fromString(text);
    for (const s of ['aⒶb', 'a\u200Db', 'a🅰b Ⓐ']) {
      expect(ids(ours, s)).toEqual(await hfIds(ref, s));
    }
    expect(ids(ours, 'aⒶb')).toEqual([2, 5, 6]);
    expect(ids(ours, 'a\u200Db')).toEqual([2, 8, 6]);
  });
});

describe("a BERT tokenizer.json whose template gives other ids than the tokens' own", () => {
  it('emits the template ids, as tokenizers does (TemplateProcessing and BertProcessing)', async () => {
    const vocab = readVocab(VOCABS.biomedbert);
    const template = bertTokenizerJson(vocab);
    template.post_processor.special_tokens['[SEP]'].ids = [5];
    const bert = { ...bertTokenizerJson(vocab), post_processor: { type: 'BertProcessing', sep: ['[SEP]', 7], cls: ['[CLS]', 8] } };
    for (const json of [template, bert]) {
      const text = JSON.stringify(json);
      const ours = load(text);
      const ref = hf.Tokenizer.fromString(text);
      const mine = Array.from(ours.encode('cell', 'unit').ids);
      expect(mine).toEqual((await ref.encode('cell', 'unit')).getIds());
      expect(mine).toContain(json === bert ? 7 : 5);
    }
  });
});

describe('added_tokens whose ids disagree with the vocabulary (tokenizers reassigns them; so do we)', () => {
  /** A seeded generator, so that a failing case can be rerun. */
  function lcg(seed: number) {
    let state = seed >>> 0;
    return () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  }

  it('300 random files: every added token gets the id tokenizers gives it', async () => {
    const random = lcg(28);
    const int = (n: number) => Math.floor(random() * n);
    let disagreeing = 0;
    for (let c = 0; c < 300; c++) {
      const n = 1 + int(8);
      const words = Array.from({ length: n }, (_, i) => `w${i}`);
      // Some vocabularies with holes in their ids, so that "the vocabulary's size" is not "its largest id + 1".
      const wordIds = random() < 0.3 ? [...Array(n + 3).keys()].sort(() => random() - 0.5).slice(0, n) : [...Array(n).keys()];
      const vocab: Record<string, number> = Object.fromEntries(words.map((w, i) => [w, wordIds[i]!]));
      vocab['[UNK]'] = random() < 0.5 ? Math.max(...wordIds) + 1 : n + 5;
      vocab['[PAD]'] = n + 6;
      const added = Array.from({ length: int(6) }, (_, j) => {
        const pool = [...words, '[UNK]', `<a${j}>`, '<b>', ''];
        return { id: int(n + 9), content: pool[int(pool.length)]!, single_word: false, lstrip: false, rstrip: false, normalized: random() < 0.5, special: random() < 0.5 };
      });
      const text = JSON.stringify({
        version: '1.0', added_tokens: added, normalizer: null, pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: null, decoder: null,
        model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
      });
      const ref = hf.Tokenizer.fromString(text);
      const sentence = ['w0', ...added.map((a) => a.content).filter(Boolean), '<b>', '<a1>'].join(' ');
      const want = await hfIds(ref, sentence);
      expect({ case: c, ids: ids(load(text), sentence) }).toEqual({ case: c, ids: want });
      if (added.some((a) => a.content !== '' && ref.tokenToId(a.content) !== a.id)) disagreeing++;
    }
    // The cases that matter: files whose written ids tokenizers does not keep.
    expect(disagreeing).toBeGreaterThan(50);
  });

  it('a token the vocabulary lacks takes the next id after the vocabulary, in list order, not the id written', async () => {
    const text = JSON.stringify({
      version: '1.0', normalizer: null, pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: null, decoder: null,
      added_tokens: [
        { id: 0, content: '<x>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
        { id: 7, content: 'a', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
        { id: 1, content: '<y>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
      ],
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: { '[UNK]': 0, a: 1, b: 9, '[PAD]': 2 } },
    });
    expect(ids(load(text), '<x> a <y> b')).toEqual(await hfIds(hf.Tokenizer.fromString(text), '<x> a <y> b'));
    expect(ids(load(text), '<x> a <y> b')).toEqual([4, 1, 5, 9]);
  });
});
