/** Load paths, configuration precedence, errors, input validation and event-loop behaviour. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TceError } from '../lib/errors';
import { Tokenizer, nativeTokenizerOf, type Encoding } from '../lib/tokenizer';
import { countEventLoopTurns } from './helpers/event-loop';
import { FIXTURES, VOCABS, bertTokenizerJson, hfFromJson, hfSingles, readJsonl, readVocab, tempDir, type NormalizerFlags } from './helpers/hf-reference';

const SAMPLE = [
  'Naïve T-cells (CD4⁺) in São Paulo: İstanbul ΣΑΣ café — 5 µg/kg ± 0.3; 北京大学 [SEP] [sep] x[CLS]y',
  ...readJsonl<{ text: string }>(path.join(FIXTURES, 'unicode_edge_cases_sample.jsonl')).map((r) => r.text),
  ...readJsonl<{ text: string }>(path.join(FIXTURES, 'pubmed_sample.jsonl')).slice(0, 40).map((r) => r.text),
];

let dir: string;
beforeAll(() => {
  dir = tempDir('tce-tok-api-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(rel: string, content: string | object): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function ids(t: Tokenizer, texts: string[]): number[][] {
  return texts.map((s) => Array.from(t.encode(s).ids));
}

async function hfIds(flags: NormalizerFlags, vocabFile = VOCABS.biomedbert): Promise<number[][]> {
  const h = hfFromJson(bertTokenizerJson(readVocab(vocabFile), flags));
  return (await hfSingles(h, SAMPLE, 0)).map((r) => r.ids);
}

describe('load paths', () => {
  it('vocab.txt and tokenizer.json give the same ids, and the ids the fast tokenizer gives', async () => {
    const fromTxt = Tokenizer.fromFile(VOCABS.biomedbert);
    const json = write('a/tokenizer.json', bertTokenizerJson(readVocab(VOCABS.biomedbert)));
    const fromJson = Tokenizer.fromFile(json);
    expect(ids(fromTxt, SAMPLE)).toEqual(ids(fromJson, SAMPLE));
    expect(ids(fromTxt, SAMPLE)).toEqual(await hfIds({}));
  });

  it('reads special-token ids from the files (bert-base-uncased: [PAD]=0 [CLS]=101 [SEP]=102)', async () => {
    const t = Tokenizer.fromFile(VOCABS['bert-base-uncased']);
    const e = t.encode('hello', 'world');
    expect(e.ids[0]).toBe(readVocab(VOCABS['bert-base-uncased']).indexOf('[CLS]'));
    expect(e.ids[e.ids.length - 1]).toBe(readVocab(VOCABS['bert-base-uncased']).indexOf('[SEP]'));
    expect(t.padId).toBe(readVocab(VOCABS['bert-base-uncased']).indexOf('[PAD]'));
    expect(t.vocabSize).toBe(readVocab(VOCABS['bert-base-uncased']).length);
    expect(e.tokens).toEqual((await hfFromJson(bertTokenizerJson(readVocab(VOCABS['bert-base-uncased']))).encode('hello', 'world')).getTokens());
  });

  it('fromModelDir prefers tokenizer.json and applies tokenizer_config.json, whose flags win', async () => {
    const vocab = readVocab(VOCABS.biomedbert);
    write('b/tokenizer.json', bertTokenizerJson(vocab)); // lowercase + strip accents
    write('b/vocab.txt', fs.readFileSync(VOCABS['bert-base-uncased'], 'utf8')); // must be ignored
    write('b/tokenizer_config.json', { do_lower_case: false, model_max_length: 512 });
    const t = Tokenizer.fromModelDir(path.join(dir, 'b'));
    expect(t.modelMaxLength).toBe(512);
    // strip_accents unset: it follows the overridden lowercase (false)
    expect(ids(t, SAMPLE)).toEqual(await hfIds({ lowercase: false }));

    write('b/tokenizer_config.json', { do_lower_case: true, strip_accents: false, tokenize_chinese_chars: false, model_max_length: 1e30 });
    const t2 = Tokenizer.fromModelDir(path.join(dir, 'b'));
    expect(t2.modelMaxLength).toBeUndefined();
    expect(ids(t2, SAMPLE)).toEqual(await hfIds({ lowercase: true, stripAccents: false, handleChineseChars: false }));
  });

  it('fromModelDir falls back to vocab.txt with the BiomedBERT tokenizer_config.json', async () => {
    fs.copyFileSync(VOCABS.biomedbert, write('c/vocab.txt', ''));
    fs.copyFileSync(path.join(FIXTURES, 'biomedbert_tokenizer_config.json'), write('c/tokenizer_config.json', ''));
    const t = Tokenizer.fromModelDir(path.join(dir, 'c'));
    expect(ids(t, SAMPLE)).toEqual(await hfIds({}));
    expect(t.modelMaxLength).toBeUndefined();
  });

  it('a stale truncation/padding block in tokenizer.json is ignored', () => {
    const json = { ...bertTokenizerJson(readVocab(VOCABS.biomedbert)), truncation: { max_length: 8, strategy: 'LongestFirst', stride: 0 }, padding: { strategy: { Fixed: 64 } } };
    const t = Tokenizer.fromFile(write('d/tokenizer.json', json));
    expect(t.encode(SAMPLE[0]!).ids.length).toBeGreaterThan(8);
  });

  it('exposes the native tokenizer to the package', () => {
    const t = Tokenizer.fromFile(VOCABS.biomedbert);
    expect(nativeTokenizerOf(t).vocabSize).toBe(t.vocabSize);
    expect(() => nativeTokenizerOf({} as Tokenizer)).toThrow(expect.objectContaining({ code: 'TCE_INTERNAL' }));
  });
});

describe('file errors', () => {
  function expectFileError(fn: () => unknown, ...parts: Array<string | RegExp>): void {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TceError);
    expect((error as TceError).code).toBe('TCE_TOKENIZER_FILE');
    for (const p of parts) expect((error as Error).message).toMatch(p);
  }

  it('missing files name the path', () => {
    expectFileError(() => Tokenizer.fromFile(path.join(dir, 'nope/vocab.txt')), 'nope/vocab.txt', 'not found');
    expectFileError(() => Tokenizer.fromModelDir(path.join(dir, 'nope')), 'no tokenizer.json or vocab.txt');
  });

  it('a duplicate token names the file and both lines', () => {
    const f = write('e/vocab.txt', '[PAD]\n[UNK]\n[CLS]\n[SEP]\nfoo\nbar\nfoo\n');
    expectFileError(() => Tokenizer.fromFile(f), 'e/vocab.txt', 'line 7', 'line 5', '"foo"');
  });

  it('empty lines keep their ids, as in transformers (later ids do not shift)', () => {
    const f = write('f/vocab.txt', '[PAD]\n[UNK]\n[CLS]\n[SEP]\n\nfoo\n\nbar\n');
    const t = Tokenizer.fromFile(f);
    expect(Array.from(t.encode('foo bar', null, { addSpecialTokens: false }).ids)).toEqual([5, 7]);
    expectFileError(() => Tokenizer.fromFile(write('f/empty.txt', '')), 'empty');
  });

  it('a vocabulary without [UNK] / [CLS] / [SEP] / [PAD] is refused with a clear message', () => {
    expectFileError(() => Tokenizer.fromFile(write('g/vocab.txt', '[PAD]\n[CLS]\n[SEP]\nfoo\n')), 'g/vocab.txt', '[UNK]');
    expectFileError(() => Tokenizer.fromFile(write('g2/vocab.txt', '[PAD]\n[UNK]\n[SEP]\nfoo\n')), '[CLS]');
    expectFileError(() => Tokenizer.fromFile(write('g3/vocab.txt', '[PAD]\n[UNK]\n[CLS]\nfoo\n')), '[SEP]');
    expectFileError(() => Tokenizer.fromFile(write('g4/vocab.txt', '[UNK]\n[CLS]\n[SEP]\nfoo\n')), '[PAD]');
  });

  it('malformed tokenizer.json / tokenizer_config.json name the file', () => {
    expectFileError(() => Tokenizer.fromFile(write('h/tokenizer.json', '{"model": ')), 'h/tokenizer.json', 'not valid JSON');
    expectFileError(() => Tokenizer.fromFile(write('h2/tokenizer.json', { model: { type: 'WordLevel', vocab: { a: 0 } } })), 'h2/tokenizer.json', '"WordLevel" is not supported', 'Unigram');
    expectFileError(() => Tokenizer.fromFile(write('h4/tokenizer.json', { model: { type: 'BPE', vocab: {} } })), 'model.vocab is empty');
    const json = bertTokenizerJson(readVocab(VOCABS.biomedbert));
    write('h3/tokenizer.json', json);
    write('h3/tokenizer_config.json', { do_lower_case: 'yes' });
    expectFileError(() => Tokenizer.fromModelDir(path.join(dir, 'h3')), 'tokenizer_config.json', 'do_lower_case');
  });
});

describe('inputs', () => {
  const t = Tokenizer.fromFile(VOCABS.biomedbert);

  it('non-strings are TCE_INVALID_INPUT errors naming the position', async () => {
    const input = (message: string) => expect.objectContaining({ name: 'TceError', code: 'TCE_INVALID_INPUT', message });
    expect(() => t.encode(3 as unknown as string)).toThrow(input('encode(): text must be a string, got number 3'));
    expect(() => t.encode('a', 4 as unknown as string)).toThrow(input('encode(): pair must be a string, got number 4'));
    await expect(t.encodeBatch(['a', 'b', 'c', ['q', 7 as unknown as string]])).rejects.toEqual(input('encodeBatch(): inputs[3][1] must be a string, got number 7'));
    await expect(t.encodeBatch(['a', null as unknown as string])).rejects.toEqual(input('encodeBatch(): inputs[1] must be a string or a [string, string] tuple, got null'));
    await expect(t.encodeBatch([['a'] as unknown as [string, string]])).rejects.toBeInstanceOf(TceError);
  });

  it('option errors are TCE_INVALID_OPTION, as CrossEncoder reports them', async () => {
    const option = (message: RegExp) => expect.objectContaining({ name: 'TceError', code: 'TCE_INVALID_OPTION', message: expect.stringMatching(message) });
    expect(() => t.encode('a', null, { maxLength: 0 })).toThrow(option(/^maxLength must be an integer from 1 to \d+, got number 0$/));
    expect(() => t.encode('a', 'b', { maxLength: 2 })).toThrow(option(/at least 3/));
    expect(() => t.encode('a', null, { maxLength: NaN })).toThrow(option(/got number NaN$/));
    expect(() => t.encode('a', null, { maxLength: 2 ** 53 })).toThrow(option(/from 1 to/));
    expect(() => t.encode('a', null, { addSpecialTokens: 'no' as never })).toThrow(option(/addSpecialTokens must be true or false, got string "no"/));
    expect(() => t.encode('a', null, { maxlength: 5 } as never)).toThrow(option(/unknown option "maxlength"; did you mean "maxLength"\?/));
    expect(() => t.encode('a', null, null as never)).toThrow(option(/options must be an object, got null/));
    await expect(t.encodeBatch([['a', 'b']], { maxLength: 2 })).rejects.toEqual(option(/at least 3/));
    // A single text needs room for 2 special tokens only.
    expect(Array.from((await t.encodeBatch(['a'], { maxLength: 2 }))[0]!.ids)).toHaveLength(2);
  });

  it('tokens are looked up in the native vocabulary, added tokens included', () => {
    const e = t.encode('hello', 'world');
    const vocab = readVocab(VOCABS.biomedbert);
    expect(e.tokens).toEqual(Array.from(e.ids, (id) => vocab[id]));
    expect(e.tokens[0]).toBe('[CLS]');
  });

  it('empty strings, singles and pairs, match the fast tokenizer', async () => {
    const h = hfFromJson(bertTokenizerJson(readVocab(VOCABS.biomedbert)));
    for (const [a, b] of [['', null], ['', ''], ['x', ''], ['', 'y'], ['\u200b\u0000', ' ']] as Array<[string, string | null]>) {
      const ref = await h.encode(a, b);
      const e = t.encode(a, b);
      expect(Array.from(e.ids)).toEqual(ref.getIds());
      expect(Array.from(e.typeIds)).toEqual(ref.getTypeIds());
    }
    expect(await t.encodeBatch([])).toEqual([]);
  });

  it('mixed batches of texts and pairs keep input order', async () => {
    const inputs: Array<string | [string, string]> = ['alpha', ['beta', 'gamma'], 'delta', ['', 'x']];
    const got = await t.encodeBatch(inputs, { maxLength: 16 });
    inputs.forEach((input, i) => {
      const one = typeof input === 'string' ? t.encode(input, null, { maxLength: 16 }) : t.encode(input[0], input[1], { maxLength: 16 });
      expect(Array.from(got[i]!.ids)).toEqual(Array.from(one.ids));
      expect(Array.from(got[i]!.typeIds)).toEqual(Array.from(one.typeIds));
    });
  });

  it('a 10 MB string through encodeBatch neither crashes nor blocks the event loop', async () => {
    const words = ['the', 'patient', 'received', '5', 'mg', 'of', 'dexamethasone', '(', 'i.v.', ')', 'naïve', 'μ', '北', '\u00a0'];
    const parts: string[] = [];
    let size = 0;
    for (let i = 0; size < 10 * 1024 * 1024; i++) {
      const w = words[(i * 7919) % words.length]!;
      parts.push(w);
      size += w.length + 1;
    }
    const big = parts.join(' ');
    let whole!: Encoding[];
    let truncated!: Encoding[];
    let pair!: Encoding[];
    const turns = await countEventLoopTurns(async () => {
      [whole, truncated, pair] = await Promise.all([
        t.encodeBatch([big]),
        t.encodeBatch([big], { maxLength: 512 }),
        t.encodeBatch([[big, big]], { maxLength: 512 }),
      ]);
    });
    expect(whole[0]!.ids.length).toBeGreaterThan(1_000_000);
    expect(truncated[0]!.ids.length).toBe(512);
    expect(pair[0]!.ids.length).toBe(512);
    expect(Array.from(truncated[0]!.ids)).toEqual(Array.from(whole[0]!.ids.subarray(0, 511)).concat(whole[0]!.ids[whole[0]!.ids.length - 1]!));
    // The JS thread only copies the strings and builds the results: while millions of tokens are
    // made on native threads the loop keeps turning (a blocking call would allow no turn).
    expect(turns).toBeGreaterThan(10);
  }, 60_000);
});

describe('added tokens beyond the BERT specials', () => {
  it('normalized / single_word / lstrip / rstrip tokens match the fast tokenizer', async () => {
    const vocab = readVocab(VOCABS.biomedbert);
    const n = vocab.length;
    const json = bertTokenizerJson(vocab);
    const tok = (id: number, content: string, o: { single_word?: boolean; lstrip?: boolean; rstrip?: boolean; normalized: boolean; special: boolean }) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, ...o,
    });
    json.added_tokens = [
      ...(json.added_tokens as object[]),
      tok(n, 'Hello', { single_word: true, lstrip: true, rstrip: true, normalized: true, special: false }),
      tok(n + 1, '[BIO]', { lstrip: true, rstrip: true, normalized: false, special: true }),
      tok(n + 2, 'foo bar', { normalized: true, special: false }),
      tok(n + 3, 'Ωmega', { normalized: true, special: false }),
      tok(n + 4, 'xyz', { single_word: true, normalized: false, special: false }),
    ];
    const t = Tokenizer.fromFile(write('added/tokenizer.json', json));
    const h = hfFromJson(json);
    expect(t.vocabSize).toBe(n + 5);
    const texts = [
      'hello world', 'say Hello there', 'HELLO', 'xHello', 'Hello_x', 'a  [BIO]  b', 'a[BIO]b', '[BIO][BIO]', 'FOO BAR baz', 'foo  bar',
      'ωmega Ωmega', 'OMEGA', 'xyz', 'axyz', 'xyz!', '_xyz', 'é xyz é', 'Hello[BIO]Hello', '  Hello  ', 'foo bar[SEP]foo bar', 'xyzxyz', 'xyz xyz',
    ];
    for (const s of texts) {
      const ref = await h.encode(s);
      const e = t.encode(s, null, { returnOffsets: true });
      expect([s, Array.from(e.ids)]).toEqual([s, ref.getIds()]);
      // (tokens: the fast tokenizer reports the matched text, e.g. "hello " with its stripped
      // space; we report the added token's content. Ids are what matter.)
      // Offsets cover what an added token matched, stripped whitespace included, and each added
      // token is a word of its own.
      expect([s, offsetFields(e)]).toEqual([s, hfOffsetFields(ref, s, null)]);
    }
  });
});

/** The offset fields of an encoding as plain arrays (offsets as [start, end] pairs). */
function offsetFields(e: Encoding): { offsets: number[][]; wordIds: number[]; sequenceIds: number[]; specialTokensMask: number[] } {
  const offsets = e.offsets!;
  return {
    offsets: Array.from({ length: offsets.length / 2 }, (_, i) => [offsets[2 * i]!, offsets[2 * i + 1]!]),
    wordIds: Array.from(e.wordIds!),
    sequenceIds: Array.from(e.sequenceIds!),
    specialTokensMask: Array.from(e.specialTokensMask!),
  };
}

/** The same fields from npm tokenizers, whose offsets count code points: turned into UTF-16 units. */
function hfOffsetFields(ref: Awaited<ReturnType<ReturnType<typeof hfFromJson>['encode']>>, text: string, pair: string | null): ReturnType<typeof offsetFields> {
  const units = (s: string) => {
    const table = [0];
    for (const ch of s) table.push(table[table.length - 1]! + ch.length);
    return table;
  };
  const tables = [units(text), units(pair ?? '')];
  const sequenceIds = ref.getSequenceIds().map((x) => x ?? -1);
  return {
    offsets: ref.getOffsets().map(([a, b], i) => (sequenceIds[i]! < 0 ? [a!, b!] : [tables[sequenceIds[i]!]![a!]!, tables[sequenceIds[i]!]![b!]!])),
    wordIds: ref.getWordIds().map((x) => x ?? -1),
    sequenceIds,
    specialTokensMask: ref.getSpecialTokensMask(),
  };
}

describe('returnOffsets', () => {
  const t = Tokenizer.fromFile(VOCABS.biomedbert);
  const h = hfFromJson(bertTokenizerJson(readVocab(VOCABS.biomedbert)));

  it('is off by default: no offset fields, none in toJSON', async () => {
    for (const e of [t.encode('hello world'), t.encode('a', 'b', { returnOffsets: false }), (await t.encodeBatch(['hello', ['a', 'b']]))[1]!]) {
      for (const key of ['offsets', 'wordIds', 'sequenceIds', 'specialTokensMask']) {
        expect(key in e).toBe(false);
        expect(key in (JSON.parse(JSON.stringify(e)) as object)).toBe(false);
      }
    }
  });

  it('is validated like the other options', async () => {
    const option = expect.objectContaining({ code: 'TCE_INVALID_OPTION', message: expect.stringMatching(/returnOffsets must be true or false, got string "yes"/) });
    expect(() => t.encode('a', null, { returnOffsets: 'yes' as never })).toThrow(option);
    await expect(t.encodeBatch(['a'], { returnOffsets: 'yes' as never })).rejects.toEqual(option);
    expect(() => t.encode('a', null, { returnoffsets: true } as never)).toThrow(expect.objectContaining({ message: expect.stringMatching(/did you mean "returnOffsets"/) }));
  });

  it('gives typed arrays, one entry per token (offsets two), that slice each token out of its own string', () => {
    const text = 'Insulin lowers glucose.', pair = 'Does insulin work?';
    const e = t.encode(text, pair, { returnOffsets: true });
    expect(e.offsets).toBeInstanceOf(Uint32Array);
    expect(e.wordIds).toBeInstanceOf(Int32Array);
    expect(e.sequenceIds).toBeInstanceOf(Int8Array);
    expect(e.specialTokensMask).toBeInstanceOf(Uint8Array);
    expect(e.offsets!.length).toBe(2 * e.ids.length);
    for (const a of [e.wordIds!, e.sequenceIds!, e.specialTokensMask!]) expect(a.length).toBe(e.ids.length);
    const pieces = e.tokens.map((_, i) => {
      const source = e.sequenceIds![i] === 1 ? pair : text;
      return e.specialTokensMask![i] ? null : source.slice(e.offsets![2 * i], e.offsets![2 * i + 1]);
    });
    // BiomedBERT lowercases; the slices are the original text, case kept, "##" not in it.
    expect(pieces.map((p, i) => (p === null ? e.tokens[i] : p.toLowerCase()))).toEqual(e.tokens.map((tok) => tok.replace(/^##/, '')));
    expect(pieces.filter((p) => p !== null).join('|')).toMatch(/^Insulin\|.*\|\.\|Does\|/);
  });

  it('equals the fast tokenizer\'s offsets (in UTF-16 units), word ids, sequence ids and special mask', async () => {
    for (const [i, text] of SAMPLE.entries()) {
      const pair = i % 3 === 0 ? SAMPLE[(i + 1) % SAMPLE.length]! : null;
      const ref = await h.encode(text, pair);
      const e = t.encode(text, pair, { returnOffsets: true });
      expect(Array.from(e.ids)).toEqual(ref.getIds());
      expect([text, offsetFields(e)]).toEqual([text, hfOffsetFields(ref, text, pair)]);
    }
  });

  it('truncation cuts the offset fields with the ids', async () => {
    h.setTruncation(16);
    try {
      for (const text of SAMPLE.slice(0, 20)) {
        const ref = await h.encode(text);
        const e = t.encode(text, null, { returnOffsets: true, maxLength: 16 });
        expect(e.ids.length).toBeLessThanOrEqual(16);
        expect([text, offsetFields(e)]).toEqual([text, hfOffsetFields(ref, text, null)]);
      }
    } finally {
      h.disableTruncation();
    }
  });

  it('encodeBatch gives what encode gives, and toJSON carries the fields as plain arrays', async () => {
    const inputs: Array<string | [string, string]> = ['alpha beta', ['naïve 😀 café', 'x'], '', ['', ''], SAMPLE[0]!];
    for (const options of [{ returnOffsets: true }, { returnOffsets: true, maxLength: 12 }, { returnOffsets: true, addSpecialTokens: false }]) {
      const batch = await t.encodeBatch(inputs, options);
      inputs.forEach((input, i) => {
        const one = typeof input === 'string' ? t.encode(input, null, options) : t.encode(input[0], input[1], options);
        expect(JSON.parse(JSON.stringify(batch[i]))).toEqual(JSON.parse(JSON.stringify(one)));
        expect(offsetFields(batch[i]!)).toEqual(offsetFields(one));
      });
    }
    const json = JSON.parse(JSON.stringify(t.encode('ab', null, { returnOffsets: true }))) as Record<string, unknown>;
    expect(json).toEqual({
      ids: expect.any(Array), typeIds: [0, 0, 0], tokens: ['[CLS]', 'ab', '[SEP]'],
      offsets: [[0, 0], [0, 2], [0, 0]], wordIds: [-1, 0, -1], sequenceIds: [-1, 0, -1], specialTokensMask: [1, 0, 1],
    });
  });
});
