// The scheduler of issue 5, checked against what it promises rather than against its own output:
// a call is sorted by length and cut by the token budget and the row cap (the forwards and padded
// tokens it must run are worked out here from Hugging Face's token counts), a large call does not
// starve a small one, and no pair is lost or scored twice when forwards are split.
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type Pair } from '../lib/cross-encoder';
import { bioasqPairs, fixtureModel, loadWithSimulatedOom, modelTestsSkipReason } from './helpers/fixture-model';
import { bertTokenizerJson, hfFromJson, hfPairs, readVocab } from './helpers/hf-reference';

const reason = modelTestsSkipReason();
if (reason) console.warn(`scheduler tests skipped: ${reason}`);

/** Forwards and padded tokens of a longest-first cut by token budget and row cap. */
function longestFirstPlan(lengths: number[], batchSize: number, maxBatchTokens: number) {
  const sorted = [...lengths].sort((x, y) => y - x);
  let forwards = 0;
  let padded = 0;
  for (let head = 0; head < sorted.length;) {
    const width = sorted[head];
    const rows = Math.min(batchSize, Math.max(1, Math.floor(maxBatchTokens / width)), sorted.length - head);
    forwards += 1;
    padded += rows * width;
    head += rows;
  }
  return { forwards, padded };
}

/** Padded tokens of batches taken in input order, as sentence-transformers runs them. */
function inputOrderPadded(lengths: number[], batchSize: number): number {
  let padded = 0;
  for (let i = 0; i < lengths.length; i += batchSize) {
    const batch = lengths.slice(i, i + batchSize);
    padded += batch.length * Math.max(...batch);
  }
  return padded;
}

describe.skipIf(reason)('scheduler', () => {
  let dir: string;
  const maxLength = 256;
  // BioASQ pairs and the same questions against truncated documents: a wide spread of lengths.
  const pairs: Pair[] = bioasqPairs(100).flatMap(([q, d]): Pair[] => [[q, d], [q, d.slice(0, 40 + (d.length % 300))]]);
  let lengths: number[];

  beforeAll(async () => {
    dir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const json = bertTokenizerJson(readVocab(path.join(dir, 'vocab.txt')));
    lengths = (await hfPairs(hfFromJson(json), hfFromJson(json), pairs.map(([q, d]) => [q, d]), maxLength)).map((r) => r.ids.length);
  });

  test('a call is sorted by length and cut by the token budget and the row cap', async () => {
    for (const [batchSize, maxBatchTokens] of [[32, 1024], [8, 100_000], [64, 700]] as const) {
      const model = await CrossEncoder.load(dir, { device: 'cpu', maxLength, batchSize, maxBatchTokens });
      await model.predict(pairs);
      const stats = model.stats();
      const plan = longestFirstPlan(lengths, batchSize, maxBatchTokens);
      expect({ batchSize, maxBatchTokens, forwards: stats.forwards, padded: stats.paddedTokens })
        .toEqual({ batchSize, maxBatchTokens, forwards: plan.forwards, padded: plan.padded });
      expect(stats.pairs).toBe(pairs.length);
      expect(stats.tokens).toBe(lengths.reduce((a, b) => a + b, 0));
      await model.dispose();
    }
    // What sorting buys on these pairs: at most half the padding of input-order batches of 32.
    const real = lengths.reduce((a, b) => a + b, 0);
    const sortedWaste = 1 - real / longestFirstPlan(lengths, 32, 1024).padded;
    const inputOrderWaste = 1 - real / inputOrderPadded(lengths, 32);
    expect(sortedWaste).toBeLessThan(inputOrderWaste / 2);
  });

  test('a large call does not starve a small one that arrives while it runs', async () => {
    // 1-2 pairs a forward: the large call needs hundreds of forwards, so that even a slow event
    // loop sees the small call finish long before the large one.
    const model = await CrossEncoder.load(dir, { device: 'cpu', maxLength, maxBatchTokens: 128 });
    const large = [...pairs, ...pairs, ...pairs, ...pairs];
    let largeDone = 0;
    let largeDoneWhenSmallArrived = -1;
    let largeDoneWhenSmallFinished = -1;
    let smallCall: Promise<unknown> | null = null;
    const small: Pair[] = [['what is a kinase?', 'A kinase is an enzyme that transfers phosphate groups.'], ['short', 'pair']];
    const largeCall = model.predict(large, {
      onProgress: (done) => {
        largeDone = done;
        if (smallCall === null) {
          largeDoneWhenSmallArrived = done;
          smallCall = model.predict(small).then(() => { largeDoneWhenSmallFinished = largeDone; });
        }
      },
    });
    await largeCall;
    await smallCall;
    expect(largeDoneWhenSmallArrived).toBeGreaterThan(0);
    // The small call is anchored by the next forward or the one after (one may be formed already).
    expect(largeDoneWhenSmallFinished).toBeGreaterThanOrEqual(0);
    expect(largeDoneWhenSmallFinished).toBeLessThan(large.length / 2);
    await model.dispose();
  });

  test('split forwards neither lose nor repeat a pair', async () => {
    // Every forward above 300 padded tokens reports out-of-memory and is halved until it fits.
    const calls: Pair[][] = Array.from({ length: 12 }, (_, c) => pairs.slice(c * 15, c * 15 + 3 + (c % 5) * 3));
    const alone = await CrossEncoder.load(dir, { device: 'cpu', maxLength, shareBatches: false });
    const expected = [];
    for (const call of calls) expected.push(await alone.predict(call) as Float32Array);
    await alone.dispose();

    const model = await loadWithSimulatedOom(dir, 300, { device: 'cpu', maxLength, maxBatchTokens: 4096, maxWaitMs: 20 });
    const results = await Promise.all(calls.map((call) => model.predict(call) as Promise<Float32Array>));
    results.forEach((scores, i) => {
      expect(scores).toHaveLength(expected[i].length);
      scores.forEach((s, k) => expect(Math.abs(s - expected[i][k])).toBeLessThanOrEqual(1e-5));
    });
    const stats = model.stats();
    const callLengths = calls.flatMap((call) => call.map((pair) => lengths[pairs.indexOf(pair)]));
    expect(stats.pairs).toBe(callLengths.length);
    expect(stats.tokens).toBe(callLengths.reduce((a, b) => a + b, 0));
    expect(stats.sharedForwards).toBeGreaterThan(0);
    await model.dispose();
  });
});
