/**
 * Every code point, and seeded random adversarial strings, against Hugging Face's fast tokenizer.
 * The only differences allowed are the code points whose Unicode properties changed after the
 * versions the fast tokenizer's tables come from (helpers/unicode-exclusions.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../lib/tokenizer';
import {
  VOCABS, adversarialText, bertTokenizerJson, hfFromJson, hfPairs, hfSingles, prng, readVocab, tempDir, type NormalizerFlags, type VocabName,
} from './helpers/hf-reference';
import { UNICODE_VERSION_EXCLUSIONS, containsExcluded, isExcludedCodePoint } from './helpers/unicode-exclusions';

function setup(vocabName: VocabName, flags: NormalizerFlags = {}) {
  const vocab = readVocab(VOCABS[vocabName]);
  const json = bertTokenizerJson(vocab, flags);
  const dir = tempDir('tce-tok-u-');
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  const ours = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  fs.rmSync(dir, { recursive: true, force: true });
  return { vocab, ours, full: hfFromJson(json), trunc: hfFromJson(json) };
}

describe('every code point', () => {
  for (const vocabName of Object.keys(VOCABS) as VocabName[]) {
    // BiomedBERT with the default settings sweeps all 17 planes; the other combinations sweep the
    // planes with assigned characters (0-3, 14), which is where the differences can be.
    for (const flags of [{}, { lowercase: false }, { stripAccents: false }, { cleanText: false, handleChineseChars: false }] as NormalizerFlags[]) {
      const ranges: Array<[number, number]> = Object.keys(flags).length === 0 && vocabName === 'biomedbert' ? [[0, 0x10ffff]] : [[0, 0x3ffff], [0xe0000, 0xe01ef]];
      it(`${vocabName} ${JSON.stringify(flags)}: differences only on the documented Unicode-version code points`, async () => {
        const { ours, full } = setup(vocabName, flags);
        const unexpected: string[] = [];
        const differing = new Set<number>();
        const STEP = 32768;
        let swept = 0;
        for (const [lo, hi] of ranges) for (let start = lo; start <= hi; start += STEP) {
          const texts: string[] = [];
          const cps: number[] = [];
          for (let cp = start; cp < Math.min(start + STEP, hi + 1); cp++) {
            if (cp >= 0xd800 && cp <= 0xdfff) continue;
            const s = String.fromCodePoint(cp);
            // alone, inside a word, after a combining mark's base, at a word end
            texts.push(`${s}a${s}b${s}\u0301 x${s}`);
            cps.push(cp);
          }
          swept += texts.length;
          const ref = await hfSingles(full, texts, 0);
          const got = await ours.encodeBatch(texts);
          for (let i = 0; i < texts.length; i++) {
            if (Array.from(got[i]!.ids).join() === ref[i]!.ids.join()) continue;
            differing.add(cps[i]!);
            if (!isExcludedCodePoint(cps[i]!) && unexpected.length < 20) {
              unexpected.push(`U+${cps[i]!.toString(16).toUpperCase()}: ours ${Array.from(got[i]!.ids).join(' ')} / hf ${ref[i]!.ids.join(' ')}`);
            }
          }
        }
        console.log(`[unicode] ${vocabName} ${JSON.stringify(flags)}: ${swept} code points, ${differing.size} differ, all within the exclusion list: ${unexpected.length === 0}`);
        expect(unexpected).toEqual([]);
      }, 120_000);
    }
  }

  it('the exclusion list holds only code points that really differ (default flags, either vocabulary)', async () => {
    const a = setup('biomedbert');
    const b = setup('bert-base-uncased');
    const stale: string[] = [];
    for (const [lo, hi] of UNICODE_VERSION_EXCLUSIONS) {
      const texts: string[] = [];
      for (let cp = lo; cp <= hi; cp++) {
        const s = String.fromCodePoint(cp);
        texts.push(`${s}a${s}b${s}\u0301 x${s}`);
      }
      const [ra, ga, rb, gb] = await Promise.all([hfSingles(a.full, texts, 0), a.ours.encodeBatch(texts), hfSingles(b.full, texts, 0), b.ours.encodeBatch(texts)]);
      texts.forEach((_, i) => {
        const same = Array.from(ga[i]!.ids).join() === ra[i]!.ids.join() && Array.from(gb[i]!.ids).join() === rb[i]!.ids.join();
        if (same) stale.push(`U+${(lo + i).toString(16).toUpperCase()}`);
      });
    }
    expect(stale).toEqual([]);
  });
});

describe('seeded adversarial strings', () => {
  for (const vocabName of Object.keys(VOCABS) as VocabName[]) {
    describe(vocabName, () => {
      let env: ReturnType<typeof setup>;
      let texts: string[];
      let skipped = 0;
      beforeAll(() => {
        env = setup(vocabName);
        const rand = prng(vocabName === 'biomedbert' ? 1234 : 5678);
        texts = [];
        while (texts.length < 3000) {
          const t = adversarialText(rand, env.vocab);
          if (containsExcluded(t)) skipped++;
          else texts.push(t);
        }
        texts.push('', ' ', '\u0000', '\u200b', '[SEP]', '[sep]', 'a'.repeat(100), 'a'.repeat(101), '\ud800', '\udc00x\ud800');
      });
      afterAll(() => {
        console.log(`[adversarial] ${vocabName}: ${texts.length} strings (${skipped} generated strings skipped for containing an excluded code point)`);
      });

      for (const maxLength of [0, 128, 32]) {
        it(`singles, maxLength ${maxLength || 'none'}`, async () => {
          const ref = await hfSingles(env.full, texts, maxLength);
          const got = await env.ours.encodeBatch(texts, maxLength ? { maxLength } : {});
          const bad = texts.map((t, i) => i).filter((i) => Array.from(got[i]!.ids).join() !== ref[i]!.ids.join());
          expect(bad.slice(0, 5).map((i) => `${JSON.stringify(texts[i])}\n ours ${Array.from(got[i]!.ids).join(' ')}\n hf   ${ref[i]!.ids.join(' ')}`)).toEqual([]);
        });
        it(`pairs, maxLength ${maxLength || 'none'}`, async () => {
          const pairs = texts.map((t, i) => [t, texts[(i * 7 + 3) % texts.length]!] as [string, string]);
          const ref = await hfPairs(env.full, env.trunc, pairs, maxLength);
          const got = await env.ours.encodeBatch(pairs, maxLength ? { maxLength } : {});
          const bad = pairs.map((p, i) => i).filter(
            (i) => Array.from(got[i]!.ids).join() !== ref[i]!.ids.join() || Array.from(got[i]!.typeIds).join() !== ref[i]!.typeIds.join(),
          );
          expect(bad.slice(0, 5).map((i) => `${JSON.stringify(pairs[i])}\n ours ${Array.from(got[i]!.ids).join(' ')}\n hf   ${ref[i]!.ids.join(' ')}`)).toEqual([]);
        });
      }

      it('without special tokens (type ids of B are 1, as in the fast tokenizer)', async () => {
        const pairs = texts.slice(0, 500).map((t, i) => [t, texts[i + 1]!] as [string, string]);
        const got = await env.ours.encodeBatch(pairs, { addSpecialTokens: false });
        for (let i = 0; i < pairs.length; i++) {
          const h = await env.full.encode(pairs[i]![0], pairs[i]![1], { addSpecialTokens: false });
          expect(Array.from(got[i]!.ids)).toEqual(h.getIds());
          expect(Array.from(got[i]!.typeIds)).toEqual(h.getTypeIds());
        }
      });
    });
  }
});
