// CrossEncoder on the CPU against an independent reference: scores from a plain-torch BERT run
// one pair at a time without padding, on ids from Hugging Face's tokenizer; API semantics as
// sentence-transformers documents them (README, *Use*).
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { bioasqPairs, fixtureModel, loadWithSimulatedOom, modelTestsSkipReason, newerTorchModel, referenceLogits } from './helpers/fixture-model';
import { countEventLoopTurns } from './helpers/event-loop';
import { tempDir } from './helpers/fake-libtorch';

const skipReason = modelTestsSkipReason();
if (skipReason) console.warn(`cross-encoder tests skipped: ${skipReason}`);

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softmax = (row: number[]) => {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

describe.skipIf(skipReason)('CrossEncoder (CPU, fp32)', () => {
  let oneLabelDir: string;
  let threeLabelDir: string;
  let model: CrossEncoder;
  let multi: CrossEncoder;
  const pairs = bioasqPairs(48);
  // Documents of very different lengths, so that batches are ragged and some pairs truncate.
  pairs.push(['', ''], ['short query', 'x'], ['q', 'word '.repeat(700)], ['[SEP] literal', 'doc with [CLS] inside']);

  beforeAll(async () => {
    oneLabelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    threeLabelDir = fixtureModel('tiny-3', { numLabels: 3, vocab: 'bert_base_uncased', legacyActivationKey: true });
    model = await CrossEncoder.load(oneLabelDir, { device: 'cpu' });
    multi = await CrossEncoder.load(threeLabelDir, { device: 'cpu', maxLength: 128 });
  });

  test('reports what it loaded', () => {
    expect(model.numLabels).toBe(1);
    expect(model.maxLength).toBe(512);
    expect(model.device).toBe('cpu');
    expect(model.precision).toBe('fp32');
    expect(multi.numLabels).toBe(3);
    expect(multi.maxLength).toBe(128);
  });

  test('batched, padded logits match unpadded one-pair-at-a-time reference (1e-5)', async () => {
    const reference = await referenceLogits(oneLabelDir, pairs, 512);
    const scores = (await model.predict(pairs, { activation: 'identity' })) as Float32Array;
    expect(scores).toBeInstanceOf(Float32Array);
    expectClose(scores, reference.map((r) => r[0]), 1e-5);
    // A spread of scores, so that the comparison means something.
    expect(Math.max(...scores) - Math.min(...scores)).toBeGreaterThan(0.1);
  });

  test('default activation is the sigmoid from config.json', async () => {
    const reference = await referenceLogits(oneLabelDir, pairs, 512);
    const scores = (await model.predict(pairs)) as Float32Array;
    expectClose(scores, reference.map((r) => sigmoid(r[0])), 1e-6);
  });

  test('truncation at a smaller maxLength matches the reference truncated the same way', async () => {
    const short = await CrossEncoder.load(oneLabelDir, { device: 'cpu', maxLength: 32 });
    const reference = await referenceLogits(oneLabelDir, pairs, 32);
    expectClose((await short.predict(pairs, { activation: 'identity' })) as Float32Array, reference.map((r) => r[0]), 1e-5);
    await short.dispose();
  });

  test('batch size and token budget do not change scores or their order', async () => {
    const base = (await model.predict(pairs)) as Float32Array;
    for (const options of [{ batchSize: 1 }, { batchSize: 7 }, { maxBatchTokens: 300 }]) {
      expectClose((await model.predict(pairs, options)) as Float32Array, base, 1e-5);
    }
  });

  test('multi-label: one row per pair, identity from the legacy config key, softmax on request', async () => {
    const sample = pairs.slice(0, 10);
    const reference = await referenceLogits(threeLabelDir, sample, 128);
    const rows = (await multi.predict(sample)) as Float32Array[];
    expect(rows).toHaveLength(10);
    rows.forEach((row, i) => expectClose(row, reference[i], 1e-5));
    const soft = (await multi.predict(sample, { applySoftmax: true })) as Float32Array[];
    soft.forEach((row, i) => expectClose(row, softmax(reference[i]), 1e-6));
    const single = (await multi.predict(sample[0])) as Float32Array;
    expectClose(single, reference[0], 1e-5);
  });

  test('per-call activations', async () => {
    const sample = pairs.slice(0, 6);
    const reference = (await referenceLogits(oneLabelDir, sample, 512)).map((r) => r[0]);
    expectClose((await model.predict(sample, { activation: 'tanh' })) as Float32Array, reference.map(Math.tanh), 1e-6);
    // As upstream: softmax over a single label makes every score 1.
    expect(Array.from((await model.predict(sample, { applySoftmax: true })) as Float32Array)).toEqual(sample.map(() => 1));
  });

  test("precision 'bf16' runs under CPU autocast: close to fp32, not identical", async () => {
    const bf16 = await CrossEncoder.load(oneLabelDir, { device: 'cpu', precision: 'bf16' });
    expect(bf16.precision).toBe('bf16');
    const sample = pairs.slice(0, 12);
    const low = (await bf16.predict(sample)) as Float32Array;
    const full = (await model.predict(sample)) as Float32Array;
    expect(low).toBeInstanceOf(Float32Array); // scores are float32 whatever the precision
    expectClose(low, full, 3e-2);
    expect(Array.from(low)).not.toEqual(Array.from(full));
    await bf16.dispose();
  });

  test('shapes: single pair -> number, list of one -> length 1, empty -> empty', async () => {
    const one = await model.predict(pairs[0]);
    expect(typeof one).toBe('number');
    const list = (await model.predict([pairs[0]])) as Float32Array;
    expect(list).toHaveLength(1);
    expect(list[0]).toBe(one);
    const empty = await model.predict([]);
    expect(empty).toBeInstanceOf(Float32Array);
    expect(empty).toHaveLength(0);
    expect(await multi.predict([])).toEqual([]);
  });

  test('rank: best first, stable among ties, topK, returnDocuments', async () => {
    const query = pairs[0][0];
    const docs = [pairs[1][1], pairs[2][1], pairs[1][1], pairs[3][1], pairs[1][1]];
    const scores = (await model.predict(docs.map((d) => [query, d] as [string, string]))) as Float32Array;
    const ranked = await model.rank(query, docs);
    // The same scores as predict (identical documents in other batch positions may differ in the
    // last bits with some BLAS libraries: compared with a tolerance), best first.
    expect(ranked.map((r) => r.corpusId).sort()).toEqual([0, 1, 2, 3, 4]);
    ranked.forEach((r) => expect(Math.abs(r.score - scores[r.corpusId])).toBeLessThanOrEqual(1e-5));
    for (let i = 1; i < ranked.length; i++) {
      expect(ranked[i - 1].score).toBeGreaterThanOrEqual(ranked[i].score);
      // Equal scores keep input order (the stable sort; test/contract.test.ts checks it on exact ties).
      if (ranked[i - 1].score === ranked[i].score) expect(ranked[i - 1].corpusId).toBeLessThan(ranked[i].corpusId);
    }
    const same = ranked.filter((r) => docs[r.corpusId] === pairs[1][1]).map((r) => r.score);
    expect(Math.max(...same) - Math.min(...same)).toBeLessThanOrEqual(1e-5);
    const top = await model.rank(query, docs, { topK: 2, returnDocuments: true });
    expect(top.map((r) => [r.corpusId, r.text])).toEqual(ranked.slice(0, 2).map((r) => [r.corpusId, docs[r.corpusId]]));
    top.forEach((r, i) => expect(Math.abs(r.score - ranked[i].score)).toBeLessThanOrEqual(1e-5));
    expect(await model.rank(query, [])).toEqual([]);
  });

  test('rank refuses a multi-label model with upstream message', async () => {
    await expect(multi.rank('q', ['d'])).rejects.toThrow(
      'CrossEncoder.rank() only works for models with num_labels=1. Consider using CrossEncoder.predict() with input pairs instead.',
    );
  });

  test('onProgress reports each batch up to the total', async () => {
    const seen: Array<[number, number]> = [];
    const before = model.stats().forwards;
    await model.predict(pairs, { batchSize: 10, onProgress: (done, total) => seen.push([done, total]) });
    // One report per forward the engine ran for this call.
    expect(seen.length).toBe(model.stats().forwards - before);
    expect(seen.length).toBeGreaterThanOrEqual(Math.ceil(pairs.length / 10));
    expect(seen.every(([, total]) => total === pairs.length)).toBe(true);
    expect(seen.map(([done]) => done)).toEqual([...seen.map(([done]) => done)].sort((a, b) => a - b));
    expect(seen[seen.length - 1][0]).toBe(pairs.length);
  });

  test('an AbortSignal stops the call with an AbortError', async () => {
    const aborted = AbortSignal.abort();
    await expect(model.predict(pairs, { signal: aborted })).rejects.toMatchObject({ name: 'AbortError' });
    const controller = new AbortController();
    let batches = 0;
    const many = Array.from({ length: 400 }, (_, i) => pairs[i % pairs.length]);
    const call = model.predict(many, {
      batchSize: 1,
      signal: controller.signal,
      onProgress: () => {
        if (++batches === 3) controller.abort();
      },
    });
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(batches).toBeLessThan(many.length);
    // The model keeps working afterwards.
    expect(typeof (await model.predict(pairs[0]))).toBe('number');
  });

  test('the event loop keeps running during a long predict', async () => {
    const many = Array.from({ length: 300 }, (_, i) => pairs[i % pairs.length]);
    let reports = 0;
    const turns = await countEventLoopTurns(() => model.predict(many, { batchSize: 8, onProgress: () => { reports++; } }));
    // A blocking implementation would allow no turn until the call settled; here the loop turns
    // at least between the reports of consecutive forwards.
    expect(reports).toBeGreaterThanOrEqual(many.length / 8);
    expect(turns).toBeGreaterThanOrEqual(reports);
  });

  describe('bad input', () => {
    test('pairs that are not [string, string] -> TCE_INVALID_INPUT naming the index', async () => {
      const input = (message: string | RegExp) => expect.objectContaining({ code: 'TCE_INVALID_INPUT', message: typeof message === 'string' ? message : expect.stringMatching(message) });
      await expect(model.predict([pairs[0], ['q', 3]] as never)).rejects.toEqual(input('pairs[1] must be [string, string], got [string, number]'));
      await expect(model.predict([pairs[0], 'q'] as never)).rejects.toEqual(input('pairs[1] must be [string, string], got string "q"'));
      await expect(model.predict(['q'] as never)).rejects.toEqual(input(/the pair must be \[string, string\], got \[string\]/));
      await expect(model.predict('q d' as never)).rejects.toEqual(input(/takes a \[query, document\] pair or an array of them, got string "q d"/));
      await expect(model.rank('q', ['d', null] as never)).rejects.toEqual(input('documents[1] must be a string, got null'));
    });

    test('bad options are clear errors', async () => {
      const option = (message: RegExp) => expect.objectContaining({ code: 'TCE_INVALID_OPTION', message: expect.stringMatching(message) });
      await expect(model.predict(pairs, { batchSize: 0 })).rejects.toEqual(option(/batchSize must be an integer from 1 to \d+, got number 0/));
      await expect(model.predict(pairs, { activation: 'relu' as never })).rejects.toEqual(option(/activation must be one of/));
      await expect(model.rank('q', ['d'], { topK: -1 })).rejects.toEqual(option(/topK must be an integer from 0 to/));
    });

    test('maxLength above max_position_embeddings is refused', async () => {
      await expect(CrossEncoder.load(oneLabelDir, { device: 'cpu', maxLength: 513 })).rejects.toThrow(/maxLength 513 is above the model's max_position_embeddings \(512/);
    });

    test("device 'cuda' without CUDA and fp16 on the CPU are clear errors", async () => {
      await expect(CrossEncoder.load(oneLabelDir, { device: 'cuda' })).rejects.toMatchObject({ code: 'TCE_CUDA_UNAVAILABLE' });
      await expect(CrossEncoder.load(oneLabelDir, { device: 'cpu', precision: 'fp16' })).rejects.toThrow(/runs on CUDA only/);
      const auto = await CrossEncoder.load(oneLabelDir);
      expect(auto.device).toBe('cpu');
      await auto.dispose();
    });

    test('a missing model directory or files are listed', async () => {
      await expect(CrossEncoder.load('/nonexistent/model')).rejects.toThrow(/Model directory \/nonexistent\/model does not exist/);
      const empty = tempDir('model');
      await expect(CrossEncoder.load(empty)).rejects.toThrow(/is missing:\n {2}- model\.pt .*\n {2}- config\.json\n {2}- tokenizer\.json or vocab\.txt/);
    });

    test('a corrupt model.pt is an error, not a crash', async () => {
      const dir = tempDir('corrupt');
      for (const f of fs.readdirSync(oneLabelDir)) fs.copyFileSync(path.join(oneLabelDir, f), path.join(dir, f));
      const bytes = fs.readFileSync(path.join(dir, 'model.pt'));
      fs.writeFileSync(path.join(dir, 'model.pt'), bytes.subarray(0, bytes.length >> 1));
      await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({ code: 'TCE_MODEL_FILE', message: expect.stringMatching(/is damaged/) });
    });
  });

    test('a model exported by a newer PyTorch says so and how to fix it', async () => {
      const dir = newerTorchModel(oneLabelDir, '2.99.0');
      try {
        const error = await CrossEncoder.load(dir, { device: 'cpu' }).catch((e: unknown) => e as Error & { code: string });
        expect(error).toMatchObject({ code: 'TCE_MODEL_LOAD_FAILED' });
        expect((error as Error).message).toMatch(/Unknown builtin op: aten::slice_from_the_future/);
        expect((error as Error).message).toMatch(/exported by PyTorch 2\.99\.0, newer than this libtorch \(\d+\.\d+/);
        expect((error as Error).message).toMatch(/--target-libtorch \d+\.\d+ \(eager attention; or --attn eager\), or run on a libtorch >= 2\.99/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

  describe('out of memory', () => {
    // Forwards above 300 padded tokens report out-of-memory, as a GPU would; the engine must
    // split and retry.
    test('a batch that runs out of memory is split and retried; one pair too large rejects alone', async () => {
      const m = await loadWithSimulatedOom(oneLabelDir, 300, { device: 'cpu', maxLength: 512 });
      const shortPairs = pairs.filter(([q, d]) => q.length + d.length < 400);
      const expected = (await model.predict(shortPairs)) as Float32Array;
      expectClose((await m.predict(shortPairs, { batchSize: 32 })) as Float32Array, expected, 1e-5);
      const long: [string, string] = ['q', 'word '.repeat(700)];
      await expect(m.predict([...shortPairs, long])).rejects.toThrow(/out of memory on a single pair of 512 tokens/);
      // Still usable after the failure.
      expectClose((await m.predict(shortPairs)) as Float32Array, expected, 1e-5);
      await m.dispose();
    });
  });

  describe('lifecycle', () => {
    test('calls after dispose() reject; dispose() is idempotent', async () => {
      const m = await CrossEncoder.load(oneLabelDir, { device: 'cpu' });
      await m.dispose();
      await m.dispose();
      await expect(m.predict(pairs)).rejects.toMatchObject({ code: 'TCE_DISPOSED' });
    });

    test('dispose() during a running call lets it finish; queued calls reject cleanly', async () => {
      const expected = (await model.predict(pairs)) as Float32Array;
      const m = await CrossEncoder.load(oneLabelDir, { device: 'cpu' });
      let started!: () => void;
      const isRunning = new Promise<void>((resolve) => (started = resolve));
      const running = Promise.allSettled([m.predict(pairs, { batchSize: 4, onProgress: () => started() })]);
      const queued = Promise.allSettled([m.predict(pairs)]);
      await isRunning;
      await m.dispose();
      const [[first], [second]] = await Promise.all([running, queued]);
      // The running call finished with its real scores, not just the right number of them.
      expect(first.status).toBe('fulfilled');
      expectClose((first as PromiseFulfilledResult<Float32Array>).value, expected, 1e-5);
      // The second call may already share the first one's batches (then it finishes), or not
      // have started (then it rejects); it never hangs or half-completes.
      if (second.status === 'fulfilled') expectClose(second.value, expected, 1e-5);
      else expect(second.reason).toMatchObject({ name: 'TceError', code: 'TCE_DISPOSED' });
      await expect(m.predict(pairs)).rejects.toMatchObject({ code: 'TCE_DISPOSED' });
    });
  });
});
