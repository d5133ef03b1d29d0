// Concurrent calls on one model share forwards; each caller still gets exactly its own scores,
// and one caller's abort or failure leaves the others alone.
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type Pair } from '../lib/cross-encoder';
import { bioasqPairs, fixtureModel, loadWithSimulatedOom, modelTestsSkipReason } from './helpers/fixture-model';

const reason = modelTestsSkipReason();
if (reason) console.warn(`shared-batch tests skipped: ${reason}`);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe.skipIf(reason)('shared batches', () => {
  let dir: string;
  const pool = bioasqPairs(100);
  // 24 callers of 1-8 pairs each, every caller with different pairs.
  const calls: Pair[][] = [];
  for (let c = 0, k = 0; c < 24; c++) {
    const size = 1 + (c * 5) % 8;
    calls.push(Array.from({ length: size }, () => pool[k++ % pool.length]));
  }
  let expected: Float32Array[];

  beforeAll(async () => {
    dir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const alone = await CrossEncoder.load(dir, { device: 'cpu', shareBatches: false });
    expected = [];
    for (const call of calls) expected.push((await alone.predict(call)) as Float32Array);
    await alone.dispose();
  });

  test('concurrent callers share forwards and each gets exactly its scores', async () => {
    const model = await CrossEncoder.load(dir, { device: 'cpu', maxWaitMs: 20 });
    const results = (await Promise.all(calls.map((call) => model.predict(call)))) as Float32Array[];
    results.forEach((scores, i) => expect(maxDiff(scores, expected[i])).toBeLessThanOrEqual(1e-5));
    const stats = model.stats();
    const total = calls.reduce((n, c) => n + c.length, 0);
    expect(stats.pairs).toBe(total);
    expect(stats.sharedForwards).toBeGreaterThan(0);
    expect(stats.forwards).toBeLessThan(calls.length);
    expect(stats.tokens).toBeLessThanOrEqual(stats.paddedTokens);
    await model.dispose();
  });

  test('without sharing, no forward mixes calls', async () => {
    const model = await CrossEncoder.load(dir, { device: 'cpu', shareBatches: false, maxWaitMs: 20 });
    const results = (await Promise.all(calls.map((call) => model.predict(call)))) as Float32Array[];
    results.forEach((scores, i) => expect(maxDiff(scores, expected[i])).toBeLessThanOrEqual(1e-5));
    expect(model.stats().sharedForwards).toBe(0);
    await model.dispose();
  });

  test("one caller's abort does not affect the others", async () => {
    const model = await CrossEncoder.load(dir, { device: 'cpu', maxWaitMs: 20 });
    const controller = new AbortController();
    const promises = calls.map((call, i) => model.predict(call, i === 3 ? { signal: controller.signal } : {}));
    controller.abort();
    const settled = await Promise.allSettled(promises);
    settled.forEach((result, i) => {
      if (i === 3) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toMatchObject({ name: 'AbortError' });
      } else {
        expect(result.status).toBe('fulfilled');
        expect(maxDiff((result as PromiseFulfilledResult<Float32Array>).value, expected[i])).toBeLessThanOrEqual(1e-5);
      }
    });
    await model.dispose();
  });

  test("one caller's failing pair fails only that caller", async () => {
    // Forwards above 300 padded tokens report out-of-memory: the long pair cannot be scored.
    const model = await loadWithSimulatedOom(dir, 300, { device: 'cpu', maxWaitMs: 20 });
    const short = calls.filter((call) => call.every(([q, d]) => q.length + d.length < 300));
    const bad: Pair[] = [short[0][0], ['q', 'word '.repeat(700)]];
    const settled = await Promise.allSettled([...short.map((call) => model.predict(call)), model.predict(bad)]);
    const badResult = settled.pop()!;
    expect(badResult.status).toBe('rejected');
    expect((badResult as PromiseRejectedResult).reason.message).toMatch(/out of memory on a single pair/);
    settled.forEach((result, i) => {
      expect(result.status).toBe('fulfilled');
      const index = calls.indexOf(short[i]);
      expect(maxDiff((result as PromiseFulfilledResult<Float32Array>).value, expected[index])).toBeLessThanOrEqual(1e-5);
    });
    await model.dispose();
  });
});
