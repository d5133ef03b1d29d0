// An aborted call rejects with the error README's *Errors* names (name 'AbortError', code
// 'ABORT_ERR') whatever aborted it: abort() with no reason (a DOMException whose code is the
// number 20), abort(reason), AbortSignal.timeout() (a 'TimeoutError'); the reason is its cause.
import { beforeAll, afterAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type Pair } from '../lib/cross-encoder';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';

const reason = modelTestsSkipReason();
if (reason) console.warn(`abort tests skipped: ${reason}`);

describe.skipIf(reason)('aborted calls reject with code ABORT_ERR', () => {
  let model: CrossEncoder;
  const pairs: Pair[] = bioasqPairs(24);

  beforeAll(async () => {
    model = await CrossEncoder.load(fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' }), { device: 'cpu', batchSize: 2 });
  });
  afterAll(async () => {
    await model.dispose();
  });

  const reasons: Array<[string, (c: AbortController) => void, (cause: unknown) => void]> = [
    ['abort() with no reason', (c) => c.abort(), (cause) => expect((cause as DOMException).name).toBe('AbortError')],
    ['abort("a string")', (c) => c.abort('a string'), (cause) => expect(cause).toBe('a string')],
    ['abort(new Error)', (c) => c.abort(new Error('mine')), (cause) => expect((cause as Error).message).toBe('mine')],
    ['a timeout reason', (c) => c.abort(new DOMException('signal timed out', 'TimeoutError')), (cause) => expect((cause as Error).name).toBe('TimeoutError')],
  ];

  for (const [name, abort, checkCause] of reasons) {
    test(`${name}, before the call and during it (from onProgress)`, async () => {
      const early = new AbortController();
      abort(early);
      const before = await model.predict(pairs, { signal: early.signal }).catch((e: unknown) => e);
      const during = new AbortController();
      const midway = await model.predict(pairs, { signal: during.signal, onProgress: () => abort(during) }).catch((e: unknown) => e);
      const ranked = await model.rank(pairs[0][0], pairs.map(([, d]) => d), { signal: early.signal }).catch((e: unknown) => e);
      for (const error of [before, midway, ranked] as Array<Error & { code?: unknown }>) {
        expect(error).toBeInstanceOf(Error);
        expect({ name: error.name, code: error.code }).toEqual({ name: 'AbortError', code: 'ABORT_ERR' });
        checkCause(error.cause);
      }
    });
  }

  test('AbortSignal.timeout(): code ABORT_ERR, the TimeoutError as cause', async () => {
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    const error = (await model.predict(pairs, { signal }).catch((e: unknown) => e)) as Error & { code?: unknown };
    expect({ name: error.name, code: error.code, message: error.message }).toEqual({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted due to timeout' });
    expect((error.cause as Error).name).toBe('TimeoutError');
    // The model stays usable.
    expect(await model.predict(pairs[0])).toEqual(expect.any(Number));
  });
});
