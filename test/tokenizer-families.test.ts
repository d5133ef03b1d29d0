/**
 * Parity with Hugging Face's Rust tokenizer (npm `tokenizers`) for the reranker families that are
 * not BERT WordPiece: XLM-R and DeBERTa-v3 (sentencepiece Unigram with a Precompiled charsmap,
 * Metaspace), ModernBERT (byte-level BPE) and the causal-LM rerankers' Qwen2/Qwen3 and Llama-3
 * byte-level BPEs (Split with the GPT-4-style regex, matched by Oniguruma), as transformers 5 and
 * 4.51 save them
 * (scripts/make-family-fixtures.py), plus variants of their tokenizer.json that real files use
 * (RobertaProcessing, byte fallback, ByteLevel post-processors, GPT-2's prefix space) or that
 * exercise the remaining components. Ids and type ids must be identical on multilingual text,
 * Unicode edge cases, PubMed text and random strings, single and paired, truncated or not.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as hf from 'tokenizers';
import { TceError } from '../lib/errors';
import { Tokenizer } from '../lib/tokenizer';
import {
  FIXTURES, HAVE_SHARED, SHARED_DATA, adversarialText, familyTokenizers, hfPairs, hfSingles, multilingualTexts, prng,
  readJsonl, tempDir, type Ref,
} from './helpers/hf-reference';
import { FAMILY_VARIANTS, writeVariant, type Json } from './helpers/family-variants';

const MAX_LENGTHS = [0, 512, 64, 16]; // 0: no truncation

interface Variant {
  name: string;
  /** A model directory (tokenizer_config.json read too) or a lone tokenizer.json. */
  load: () => Tokenizer;
  ref: () => hf.Tokenizer;
}

function corpus(): { texts: string[]; pairs: Array<[string, string]> } {
  const texts = [
    ...multilingualTexts(),
    ...readJsonl<{ text: string }>(path.join(FIXTURES, 'unicode_edge_cases_sample.jsonl')).map((r) => r.text),
    ...readJsonl<{ text: string }>(path.join(FIXTURES, 'pubmed_sample.jsonl')).map((r) => r.text).slice(0, 60),
    // Added tokens in running text, whitespace runs, empty and blank texts.
    'a <mask> b [MASK] c <s>x</s> [CLS] [SEP]<pad>', '  leading and trailing  ', '', ' ', '\t\n', '▁already ▁marked',
    '<s>starts with an added token', ' <mask>after a space', '\u0001control first', 'x<s>y',
    // Other_Alphabetic symbols (circled / squared letters) and a join control: word characters of
    // Rust's \w (the Whitespace pre-tokenizer), one word with the letters around them.
    'aⒶb ⓩz 🄰x🅐y 🅰z 🅉q', 'a\u200Db c\u200Cd',
    // The GPT-4-style Split regex: contractions in any case (Oniguruma folds ſ to s and K to k),
    // digit runs (one or three per piece), whitespace and newline runs before words and at the end,
    // chat-template markup with the Qwen and Llama-3 added tokens and fragments of them.
    "I'M sure he'S, you'Re, we'VE, they'lL, it'd, 'ſ 'K don't DON'T", '1234567890 ١٢٣٤ １２３ 12.5%',
    'a\n\nb\r\n\r\n  c   \n\t d  ', 'trailing   ', '\n\n\n', ' \u00a0\u3000x\u2028y\u0085z',
    '<|im_start|>system\nJudge<|im_end|>\n<|im_start|>user\n<think>\n\n</think>\n\n<|endoftext|>',
    '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>', '<|im_ <|im_start <|im_end| |> <|',
  ];
  if (HAVE_SHARED) {
    texts.push(...readJsonl<{ text: string }>(path.join(SHARED_DATA, 'unicode_edge_cases.jsonl')).map((r) => r.text));
  }
  const rand = prng(18);
  const words = multilingualTexts().join(' ').split(/\s+/);
  for (let i = 0; i < 200; i++) texts.push(adversarialText(rand, words));
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < texts.length; i++) pairs.push([texts[i]!, texts[(i * 7 + 3) % texts.length]!]);
  return { texts, pairs };
}

function diffs(ours: Array<{ ids: Int32Array; typeIds: Int32Array }>, ref: Ref[], label: (i: number) => string): string[] {
  const out: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const a = ours[i]!;
    const r = ref[i]!;
    if (Array.from(a.ids).join() !== r.ids.join() || Array.from(a.typeIds).join() !== r.typeIds.join()) {
      out.push(`${label(i)}\n  ours: ${Array.from(a.ids).join(' ')} / ${Array.from(a.typeIds).join('')}\n  hf:   ${r.ids.join(' ')} / ${r.typeIds.join('')}`);
    }
  }
  return out;
}

const scratch = tempDir('tce-tok-families-');

function variantsOf(env: 'st6' | 'st41', dir: string): Variant[] {
  const fam = (f: string): Variant => ({
    name: `${f} (${env === 'st6' ? 'transformers 5' : 'transformers 4.51'})`,
    load: () => Tokenizer.fromModelDir(path.join(dir, f)),
    ref: () => hf.Tokenizer.fromFile(path.join(dir, f, 'tokenizer.json')),
  });
  const out = [fam('xlmr'), fam('deberta-v3'), fam('modernbert'), fam('qwen2'), fam('llama3')];
  if (env !== 'st41') return out;
  for (const v of FAMILY_VARIANTS) {
    const file = () => writeVariant(v, dir, scratch);
    out.push({
      name: v.name,
      load: () => (v.withConfig ? Tokenizer.fromModelDir(path.dirname(file())) : Tokenizer.fromFile(file())),
      ref: () => hf.Tokenizer.fromFile(file()),
    });
  }
  return out;
}

const { texts, pairs } = corpus();

for (const env of ['st6', 'st41'] as const) {
  describe(`tokenizer parity: families converted by ${env === 'st6' ? 'transformers 5 (.venv)' : 'transformers 4.51 (.venv-st41)'}`, () => {
    const built = familyTokenizers(env);
    if ('skip' in built) {
      it.skip(`skipped: ${built.skip}`, () => {});
      return;
    }
    for (const v of variantsOf(env, built.dir)) {
      describe(v.name, () => {
        let ours: Tokenizer;
        let ref: hf.Tokenizer;
        let trunc: hf.Tokenizer;
        beforeAll(() => {
          ours = v.load();
          ref = v.ref();
          trunc = v.ref();
        });
        for (const maxLength of MAX_LENGTHS) {
          it(`single texts, maxLength ${maxLength || 'none'}: identical ids and type ids (${texts.length} texts)`, async () => {
            const mine = await ours.encodeBatch(texts, maxLength ? { maxLength } : {});
            const theirs = await hfSingles(ref, texts, maxLength);
            expect(diffs(mine, theirs, (i) => JSON.stringify(texts[i]).slice(0, 160))).toEqual([]);
            expect(theirs.length).toBe(texts.length);
          });
          it(`pairs, maxLength ${maxLength || 'none'} (longest_first): identical ids and type ids (${pairs.length} pairs)`, async () => {
            const mine = await ours.encodeBatch(pairs, maxLength ? { maxLength } : {});
            const theirs = await hfPairs(ref, trunc, pairs, maxLength);
            expect(diffs(mine, theirs, (i) => JSON.stringify(pairs[i]).slice(0, 160))).toEqual([]);
          });
        }
        it('encode() without special tokens matches too', async () => {
          for (const t of texts.slice(0, 40)) {
            const r = await ref.encode(t, null, { addSpecialTokens: false });
            expect(Array.from(ours.encode(t, null, { addSpecialTokens: false }).ids)).toEqual(r.getIds());
          }
        });
      });
    }
  });
}

describe('family specifics', () => {
  const built = familyTokenizers('st41');
  if ('skip' in built) {
    it.skip(`skipped: ${built.skip}`, () => {});
    return;
  }
  it('XLM-R pairs carry 4 special tokens (<s> A </s></s> B </s>), all type id 0, and maxLength must leave room for them', () => {
    const tok = Tokenizer.fromModelDir(path.join(built.dir, 'xlmr'));
    const e = tok.encode('insulin', 'glucose');
    expect(e.tokens[0]).toBe('<s>');
    expect(e.tokens.filter((t) => t === '</s>').length).toBe(3);
    expect(Array.from(e.typeIds).every((t) => t === 0)).toBe(true);
    expect(tok.padId).toBe(1);
    expect(tok.encode('insulin', 'glucose', { maxLength: 4 }).ids.length).toBe(4);
    expect(() => tok.encode('insulin', 'glucose', { maxLength: 3 })).toThrow(/at least 4/);
  });
  it('DeBERTa-v3 pairs: [CLS] A [SEP] B [SEP] with type ids 0 then 1', () => {
    const tok = Tokenizer.fromModelDir(path.join(built.dir, 'deberta-v3'));
    const e = tok.encode('insulin', 'glucose');
    expect([e.tokens[0], e.tokens[e.tokens.length - 1]]).toEqual(['[CLS]', '[SEP]']);
    const firstB = e.tokens.indexOf('[SEP]') + 1;
    expect(Array.from(e.typeIds)).toEqual(e.tokens.map((_, i) => (i >= firstB ? 1 : 0)));
  });
  it('an unsupported component is a TCE_TOKENIZER_FILE error that names it', () => {
    const source = JSON.parse(fs.readFileSync(path.join(built.dir, 'xlmr', 'tokenizer.json'), 'utf8')) as Json;
    const bpe = JSON.parse(fs.readFileSync(path.join(built.dir, 'modernbert', 'tokenizer.json'), 'utf8')) as Json;
    const cases: Array<[string, (j: Json) => void, RegExp]> = [
      ['normalizer', (j) => { j.normalizer = { type: 'ByteLevel' }; }, /normalizer ByteLevel.*not supported/],
      ['pre_tokenizer', (j) => { j.pre_tokenizer = { type: 'UnicodeScripts' }; }, /pre_tokenizer UnicodeScripts.*not supported/],
      ['post_processor', (j) => { j.post_processor = { type: 'Fancy' }; }, /post_processor Fancy.*not supported/],
      ['model', (j) => { j.model = { type: 'WordLevel', vocab: { a: 0 } }; }, /model "WordLevel" is not supported/],
      ['regex', (j) => { j.normalizer = { type: 'Replace', pattern: { Regex: '\\p{Nope}' }, content: 'c' }; }, /regex "\\p\{Nope\}" does not compile: invalid character property name \{Nope\}/],
      ['dropout', (j) => { j.model = { ...bpe.model, dropout: 0.1 }; j.normalizer = null; }, /dropout is not supported/],
      ['charsmap', (j) => { j.normalizer = { type: 'Precompiled', precompiled_charsmap: '***' }; }, /precompiled_charsmap.*base64/],
    ];
    for (const [name, edit, message] of cases) {
      const json = structuredClone(source);
      edit(json);
      const file = path.join(scratch, `bad-${name}`, 'tokenizer.json');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(json));
      let error: unknown;
      try {
        Tokenizer.fromFile(file);
      } catch (e) {
        error = e;
      }
      expect(error, name).toBeInstanceOf(TceError);
      expect((error as TceError).code).toBe('TCE_TOKENIZER_FILE');
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain(file);
    }
  });
  it('loadFromModelDir (off the event loop) builds the same tokenizer as fromModelDir', async () => {
    for (const f of ['xlmr', 'deberta-v3', 'modernbert', 'qwen2']) {
      const a = Tokenizer.fromModelDir(path.join(built.dir, f));
      const b = await Tokenizer.loadFromModelDir(path.join(built.dir, f));
      const x = await a.encodeBatch(pairs.slice(0, 50), { maxLength: 64 });
      const y = await b.encodeBatch(pairs.slice(0, 50), { maxLength: 64 });
      expect(y.map((e) => Array.from(e.ids).join())).toEqual(x.map((e) => Array.from(e.ids).join()));
    }
  });
});
