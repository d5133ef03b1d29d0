// The engine keeps two batches in flight (native/engine/model_runner.h): it pads and launches
// batch N+1 before it collects batch N. On the CPU the forward runs when its batch is collected,
// from the padded buffer of its slot, so a pipeline that reused a buffer still in flight, mixed
// up slots or scattered a batch's scores to another batch's rows gives wrong scores here. Every
// check counts (forwards, progress reports, pairs) or compares scores; nothing is timed.
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type Pair } from '../lib/cross-encoder';
import { bioasqPairs, fixtureModel, loadWithSimulatedOom, modelTestsSkipReason } from './helpers/fixture-model';

const reason = modelTestsSkipReason();
if (reason) console.warn(`pipeline tests skipped: ${reason}`);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe.skipIf(reason)('two batches in flight', () => {
  let dir: string;
  // Questions against whole and cut documents, each well under 300 tokens: lengths from a few
  // tokens to a few hundred, in an input order that is not the longest-first order the engine
  // runs them in.
  const pool: Pair[] = bioasqPairs(80)
    .flatMap(([q, d], i): Pair[] => [[q, d.slice(0, 20 + ((i * 37) % 400))], [q, d]])
    .filter(([q, d]) => q.length + d.length < 800)
    .slice(0, 120);
  const maxLength = 512;
  /** Each pool pair scored alone: one pair, one forward, nothing else in flight. */
  const alone = new Map<Pair, number>();
  const expectedFor = (pairs: readonly Pair[]) => Float32Array.from(pairs, (pair) => alone.get(pair)!);

  beforeAll(async () => {
    dir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const model = await CrossEncoder.load(dir, { device: 'cpu', maxLength, shareBatches: false });
    for (const pair of pool) alone.set(pair, (await model.predict(pair)) as number);
    await model.dispose();
  });

  test('one pair a forward: scores in input order, one progress report per forward, every forward but the first overlapped', async () => {
    const model = await CrossEncoder.load(dir, { device: 'cpu', maxLength, batchSize: 1 });
    const pairs = pool.slice(0, 30);
    const done: number[] = [];
    const scores = (await model.predict(pairs, { onProgress: (d) => { done.push(d); } })) as Float32Array;
    expect(maxDiff(scores, expectedFor(pairs))).toBeLessThanOrEqual(1e-5);
    expect(done).toEqual(Array.from({ length: pairs.length }, (_, i) => i + 1));
    // Batch k+1 is launched before batch k is collected: with one call and nothing failing, that
    // is every batch after the first.
    const stats = model.stats();
    expect(stats).toMatchObject({ forwards: pairs.length, pairs: pairs.length, overlappedForwards: pairs.length - 1 });
    // Collecting is part of the time in the core (on the CPU, the forwards themselves).
    expect(stats.waitMs).toBeGreaterThan(0);
    expect(stats.waitMs).toBeLessThanOrEqual(stats.forwardMs);
    await model.dispose();
  });

  for (const at of ['submit', 'collect'] as const) {
    test(`batches that run out of memory at ${at} are split while the next batch is in flight; every call gets its own scores`, async () => {
      // 20 calls of 1-12 pairs sharing forwards of up to 2048 tokens; every forward above 300
      // padded tokens reports out-of-memory and is halved until it fits, in its own slot, when
      // the engine comes to collect it: by then the batch behind it has been launched (on the
      // CPU, padded and handed to the core) and must come through untouched. One call holds a
      // pair that does not fit alone: it fails, alone.
      const calls: Pair[][] = Array.from({ length: 20 }, (_, c) => pool.slice((c * 7) % 100, ((c * 7) % 100) + 1 + ((c * 5) % 12)));
      const tooLong: Pair = ['q', 'word '.repeat(400)];  // 400 tokens and more, alone above 300
      const model = await loadWithSimulatedOom(dir, 300, { device: 'cpu', maxLength, maxBatchTokens: 2048, maxWaitMs: 20 }, at);
      const settled = await Promise.allSettled([...calls.map((call) => model.predict(call)), model.predict([pool[0], tooLong])]);
      const failed = settled.pop()!;
      expect(failed.status).toBe('rejected');
      expect((failed as PromiseRejectedResult).reason).toMatchObject({ code: 'TCE_FORWARD_FAILED', message: expect.stringMatching(/out of memory on a single pair of \d+ tokens/) });
      settled.forEach((result, i) => {
        expect(result.status).toBe('fulfilled');
        expect(maxDiff((result as PromiseFulfilledResult<Float32Array>).value, expectedFor(calls[i]))).toBeLessThanOrEqual(1e-5);
      });
      const stats = model.stats();
      const total = calls.reduce((n, call) => n + call.length, 0);
      // Every scored pair once (the failed call's short pair may or may not have been scored before
      // its long pair failed), and only forwards that fit.
      expect(stats.pairs - total).toBeGreaterThanOrEqual(0);
      expect(stats.pairs - total).toBeLessThanOrEqual(1);
      expect(stats.paddedTokens).toBeLessThanOrEqual(300 * stats.forwards);
      expect(stats.sharedForwards).toBeGreaterThan(0);
      // Still usable, and right, after the failures.
      expect(maxDiff((await model.predict(calls[3])) as Float32Array, expectedFor(calls[3]))).toBeLessThanOrEqual(1e-5);
      await model.dispose();
    });
  }

  test('a call aborted while its batches are in flight is dropped; the call sharing them gets its scores', async () => {
    const model = await CrossEncoder.load(dir, { device: 'cpu', maxLength, batchSize: 2, maxWaitMs: 20 });
    const controller = new AbortController();
    const kept = pool.slice(0, 40);
    const many = [...pool, ...pool, ...pool, ...pool];  // hundreds of forwards: the abort comes long before their end
    const aborted = model.predict(many, { signal: controller.signal, onProgress: () => controller.abort() });
    const survivor = model.predict(kept);
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect(maxDiff((await survivor) as Float32Array, expectedFor(kept))).toBeLessThanOrEqual(1e-5);
    // The aborted call's pairs stop being scored once its batches in flight are done.
    expect(model.stats().pairs).toBeLessThan(kept.length + many.length / 2);
    expect(maxDiff((await model.predict(kept)) as Float32Array, expectedFor(kept))).toBeLessThanOrEqual(1e-5);
    await model.dispose();
  });
});
