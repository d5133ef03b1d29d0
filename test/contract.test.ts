// The API contract at its edges (issue 11): every documented per-call option holds in shared
// forwards, every bad value is a TceError that says what is wrong before any work starts, bad
// model directories are refused instead of hanging or exhausting memory, onProgress errors reject
// their call, and dispose({ abort: true }) stops running calls. Each test counts events (forwards,
// progress reports, pairs) rather than timing anything.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { CrossEncoder, type Pair } from '../lib/cross-encoder';
import { TCE_ERROR_CODES, TceError } from '../lib/errors';
import { native, type NativeModel, type NativeTextBuffer } from '../lib/native';
import { nativeTokenizerOf, Tokenizer } from '../lib/tokenizer';
import { repoRoot } from './helpers/child';
import { countEventLoopTurns, startTurnCounter } from './helpers/event-loop';
import { tempDir } from './helpers/fake-libtorch';
import { fixtureModel, modelTestsSkipReason, vocabFile } from './helpers/fixture-model';
import { bertTokenizerJson, readVocab } from './helpers/hf-reference';

const reason = modelTestsSkipReason();
if (reason) console.warn(`contract tests skipped: ${reason}`);

const option = (message: RegExp) => expect.objectContaining({ name: 'TceError', code: 'TCE_INVALID_OPTION', message: expect.stringMatching(message) });
const modelDirError = (message: RegExp) => expect.objectContaining({ name: 'TceError', code: 'TCE_MODEL_DIR', message: expect.stringMatching(message) });

/** Progress reports as the number of pairs each forward scored for the call. */
function deltas(done: number[]): number[] {
  return done.map((d, i) => d - (i === 0 ? 0 : done[i - 1]));
}

describe('README error table', () => {
  test('lists every code, and only codes that exist', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Errors'));
    const table = section.slice(0, section.indexOf('\n\n', section.indexOf('|')));
    const listed = [...table.matchAll(/^\| `(TCE_[A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual([...TCE_ERROR_CODES].sort());
  });
});

describe('tokenizer files', () => {
  test('a tokenizer.json vocab id near 2^31 is refused, not allocated', () => {
    const json = bertTokenizerJson(readVocab(vocabFile('biomedbert')));
    (json.model as { vocab: Record<string, number> }).vocab.huge = 2 ** 31 - 10;
    const file = path.join(tempDir('vocab-id'), 'tokenizer.json');
    fs.writeFileSync(file, JSON.stringify(json));
    expect(() => Tokenizer.fromFile(file)).toThrow(expect.objectContaining({
      code: 'TCE_TOKENIZER_FILE', message: expect.stringMatching(/model\.vocab\["huge"\] has id 2147483638, far beyond the vocabulary/),
    }));
  });

  test('loadFromModelDir hands a large vocabulary over in chunks and builds the same tokenizer', async () => {
    const vocab = [...readVocab(vocabFile('biomedbert')), ...Array.from({ length: 200_000 }, (_, i) => `extra${i}`)];
    const modelDir = tempDir('big-vocab');
    fs.writeFileSync(path.join(modelDir, 'tokenizer.json'), JSON.stringify(bertTokenizerJson(vocab)));
    const turns = await countEventLoopTurns(async () => {
      const loaded = await Tokenizer.loadFromModelDir(modelDir);
      const direct = Tokenizer.fromModelDir(modelDir);
      expect(loaded.vocabSize).toBe(vocab.length);
      for (const text of ['extra123456 and caffeine', 'CYP1A2 metabolizes extra7']) {
        expect(Array.from(loaded.encode(text).ids)).toEqual(Array.from(direct.encode(text).ids));
      }
      expect(loaded.encode('extra199999').tokens).toEqual(['[CLS]', 'extra199999', '[SEP]']);
    });
    expect(turns).toBeGreaterThanOrEqual(vocab.length / 4096 - 1);
  });
});

describe.skipIf(reason)('CrossEncoder contract', () => {
  let dir: string;
  let model: CrossEncoder;
  const short: Pair = ['a', 'b']; // [CLS] a [SEP] b [SEP]: 5 tokens

  /** A copy of the fixture model directory, with `edit` applied to its files. */
  function copyModel(edit: (copy: string) => void): string {
    const copy = tempDir('model-copy');
    for (const f of fs.readdirSync(dir)) {
      if (fs.statSync(path.join(dir, f)).isFile()) fs.copyFileSync(path.join(dir, f), path.join(copy, f));
    }
    edit(copy);
    return copy;
  }
  function editConfig(copy: string, file: string, change: Record<string, unknown>): void {
    const p = path.join(copy, file);
    const current = fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, 'utf8')) : {};
    fs.writeFileSync(p, JSON.stringify({ ...current, ...change }));
  }

  beforeAll(async () => {
    dir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    model = await CrossEncoder.load(dir, { device: 'cpu' });
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  describe('per-call budgets hold in shared forwards', () => {
    test("a call's batchSize bounds every forward that carries its pairs", async () => {
      const m = await CrossEncoder.load(dir, { device: 'cpu', maxWaitMs: 2000 });
      const done: number[] = [];
      // The one-pair call arrives first and waits for company; the large call joins its forward.
      const small = m.predict([short]);
      const large = m.predict(Array.from({ length: 30 }, () => short), { batchSize: 2, onProgress: (d) => { done.push(d); } });
      await Promise.all([small, large]);
      expect(m.stats().sharedForwards).toBeGreaterThan(0);
      expect(Math.max(...deltas(done))).toBeLessThanOrEqual(2);
      expect(done[done.length - 1]).toBe(30);
      await m.dispose();
    });

    test("a call's maxBatchTokens bounds every forward that carries its pairs", async () => {
      const m = await CrossEncoder.load(dir, { device: 'cpu', maxWaitMs: 2000 });
      const done: number[] = [];
      const small = m.predict([short], { batchSize: 256, maxBatchTokens: 100_000 });
      // 16 tokens at 5 tokens a pair: 3 pairs a forward at most.
      const large = m.predict(Array.from({ length: 30 }, () => short), { maxBatchTokens: 16, onProgress: (d) => { done.push(d); } });
      await Promise.all([small, large]);
      expect(m.stats().sharedForwards).toBeGreaterThan(0);
      expect(Math.max(...deltas(done))).toBeLessThanOrEqual(3);
      expect(done[done.length - 1]).toBe(30);
      await m.dispose();
    });
  });

  test('rank sorts NaN scores last, deterministically, and topK follows', async () => {
    const m = await CrossEncoder.load(dir, { device: 'cpu' });
    // Scores as an fp16 overflow could leave them; ties among numbers and among NaNs.
    (m as unknown as { score: () => Promise<Float32Array> }).score = async () => Float32Array.of(0.2, NaN, 0.9, 0.2, NaN, 0.5);
    const docs = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];
    expect((await m.rank('q', docs)).map((r) => r.corpusId)).toEqual([2, 5, 0, 3, 1, 4]);
    expect((await m.rank('q', docs, { topK: 3 })).map((r) => r.corpusId)).toEqual([2, 5, 0]);
    await m.dispose();
  });

  describe('load() refuses what it cannot use', () => {
    test('a FIFO as model.pt is refused instead of hanging', async () => {
      const copy = copyModel((c) => {
        fs.rmSync(path.join(c, 'model.pt'));
        execFileSync('mkfifo', [path.join(c, 'model.pt')]);
      });
      await expect(CrossEncoder.load(copy, { device: 'cpu' })).rejects.toEqual(modelDirError(/model\.pt must be regular files/));
    });

    test('a directory that cannot be searched says so instead of "missing model.pt"', async () => {
      // Root can search any directory, so the permission error is injected where it would occur.
      const statSync = fs.statSync;
      vi.spyOn(fs, 'statSync').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
        if (String(p).endsWith('model.pt')) throw Object.assign(new Error(`EACCES: permission denied, stat '${String(p)}'`), { code: 'EACCES' });
        return (statSync as (...args: unknown[]) => unknown)(p, ...rest);
      }) as typeof fs.statSync);
      await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toEqual(modelDirError(/Cannot access .*model\.pt: permission denied/));
    });

    test('config values out of bounds are refused before anything is allocated', async () => {
      const tinyPositions = copyModel((c) => editConfig(c, 'config.json', { max_position_embeddings: 2 }));
      await expect(CrossEncoder.load(tinyPositions, { device: 'cpu' })).rejects.toEqual(modelDirError(/max_position_embeddings must be an integer from 3 to \d+, got number 2/));
      const manyLabels = copyModel((c) => editConfig(c, 'config.json', { num_labels: 1e8 }));
      await expect(CrossEncoder.load(manyLabels, { device: 'cpu' })).rejects.toEqual(modelDirError(/num_labels must be an integer from 1 to 10000, got number 100000000/));
      const shortTokenizer = copyModel((c) => editConfig(c, 'tokenizer_config.json', { model_max_length: 2 }));
      await expect(CrossEncoder.load(shortTokenizer, { device: 'cpu' })).rejects.toEqual(modelDirError(/model_max_length is 2, too short for a pair/));
    });
  });

  describe('options', () => {
    test('every numeric option is bounded, NaN and Infinity named as such', async () => {
      const cases: Array<[object, RegExp]> = [
        [{ cpuThreads: 1e12 }, /cpuThreads must be an integer from 1 to 1024, got number 1000000000000/],
        [{ cpuThreads: 1025 }, /cpuThreads must be an integer from 1 to 1024/],
        [{ cpuThreads: 2.5 }, /cpuThreads must be an integer/],
        [{ batchSize: NaN }, /batchSize must be an integer from 1 to \d+, got number NaN/],
        [{ maxBatchTokens: Infinity }, /maxBatchTokens must be an integer from 1 to \d+, got number Infinity/],
        [{ maxLength: 1e9 }, /maxLength must be an integer from 3 to/],
        [{ maxLength: 2 }, /maxLength must be an integer from 3 to/],
        [{ maxWaitMs: -1 }, /maxWaitMs must be a number from 0 to 60000, got number -1/],
        [{ maxWaitMs: NaN }, /maxWaitMs must be a number from 0 to 60000, got number NaN/],
      ];
      for (const [options, message] of cases) {
        await expect(CrossEncoder.load(dir, { device: 'cpu', ...options }), JSON.stringify(options)).rejects.toEqual(option(message));
      }
      await expect(model.predict([short], { batchSize: 2 ** 31 })).rejects.toEqual(option(/batchSize must be an integer from 1 to/));
      await expect(model.rank('q', ['d'], { topK: 1.5 })).rejects.toEqual(option(/topK must be an integer from 0 to/));
    });

    test("enum options are compared by value: 'toString' is not an activation, 'valueOf' not a precision", async () => {
      await expect(CrossEncoder.load(dir, { device: 'cpu', activation: 'toString' as never })).rejects.toEqual(option(/activation must be one of 'sigmoid', 'identity', 'tanh', 'softmax'; got string "toString"/));
      await expect(CrossEncoder.load(dir, { device: 'cpu', precision: 'valueOf' as never })).rejects.toEqual(option(/precision must be one of 'fp32', 'fp16', 'bf16', 'auto'; got string "valueOf"/));
      await expect(model.predict([short], { activation: 'hasOwnProperty' as never })).rejects.toEqual(option(/activation must be one of/));
    });

    test('a wrong-typed signal is refused before any pair is scored', async () => {
      const m = await CrossEncoder.load(dir, { device: 'cpu' });
      let reports = 0;
      const many = Array.from({ length: 50 }, () => short);
      await expect(m.predict(many, { batchSize: 1, signal: 'stop' as never, onProgress: () => { reports++; } }))
        .rejects.toEqual(option(/signal must be an AbortSignal, got string "stop"/));
      await m.predict([short]);
      expect(m.stats().pairs).toBe(1);
      expect(reports).toBe(0);
      await m.dispose();
    });

    test('unknown, null and wrong-typed options say what is wrong', async () => {
      await expect(model.predict([short], { batchsize: 4 } as never)).rejects.toEqual(option(/predict\(\) options: unknown option "batchsize"; did you mean "batchSize"\?/));
      await expect(model.rank('q', ['d'], { topk: 1 } as never)).rejects.toEqual(option(/unknown option "topk"; did you mean "topK"\?/));
      await expect(CrossEncoder.load(dir, { devise: 'cpu' } as never)).rejects.toEqual(option(/unknown option "devise"; did you mean "device"\?/));
      await expect(model.rank('q', ['d'], null as never)).rejects.toEqual(option(/rank\(\) options must be an object, got null/));
      await expect(CrossEncoder.load(dir, null as never)).rejects.toEqual(option(/CrossEncoder\.load\(\) options must be an object, got null/));
      await expect(model.predict([short], { applySoftmax: 'false' as never })).rejects.toEqual(option(/applySoftmax must be true or false, got string "false"/));
      await expect(model.dispose({ abort: 1 } as never)).rejects.toEqual(option(/abort must be true or false/));
    });

    test("tf32 is a boolean, refused with precision 'fp16'/'bf16', and changes nothing on the CPU", async () => {
      await expect(CrossEncoder.load(dir, { device: 'cpu', tf32: 'yes' as never })).rejects.toEqual(option(/tf32 must be true or false, got string "yes"/));
      await expect(CrossEncoder.load(dir, { device: 'cpu', precision: 'bf16', tf32: true }))
        .rejects.toEqual(option(/tf32: true applies to precision 'fp32' only; this model would run in precision 'bf16', whose autocast already runs matmuls in half precision/));
      const pairs: Pair[] = [short, ['caffeine metabolism', 'CYP1A2 metabolizes caffeine.']];
      // 'auto' falls back to the CPU here (no CUDA device): tf32 is accepted and does nothing.
      const m = await CrossEncoder.load(dir, { device: 'auto', tf32: true });
      expect(m.device).toBe('cpu');
      expect(Array.from((await m.predict(pairs)) as Float32Array)).toEqual(Array.from((await model.predict(pairs)) as Float32Array));
      await m.dispose();
    });

    test('the CUDA fp32 models of a process share one tf32 setting: a model with the other one is refused until they are gone', async () => {
      // Claims are made when the native model is created, before anything touches CUDA, so the
      // rule is checked here on a CPU-only libtorch with CUDA device names.
      const addon = native();
      const tokenizer = nativeTokenizerOf(model.tokenizer);
      const create = (device: string, precision: 'fp32' | 'fp16', tf32: boolean) => new addon.Model(tokenizer, {
        path: path.join(dir, 'model.pt'), device, precision: addon.codes.precision[precision], numLabels: 1, maxLength: 32,
        shareBatches: true, maxWaitMs: 0, cpuThreads: 0, tf32,
      });
      const conflict = expect.objectContaining({ code: 'TCE_INVALID_OPTION', message: expect.stringMatching(/tf32: false conflicts with 2 CUDA fp32 model\(s\) of this process loaded with tf32: true\. libtorch's TF32 switch is process-wide.*dispose the other model\(s\) first, or load this one with tf32: true/) });
      const a = create('cuda:0', 'fp32', true);
      const b = create('cuda', 'fp32', true);
      expect(() => create('cuda:0', 'fp32', false)).toThrow(conflict);
      // Models that never run float32 matmuls on CUDA take no part.
      const others = [create('cuda:0', 'fp16', false), create('cpu', 'fp32', false)];
      // A model that fails to load (no CUDA here) gives its claim back at once, the other still holds.
      await expect(a.load()).rejects.toMatchObject({ code: 'TCE_MODEL_LOAD_FAILED', message: expect.stringMatching(/CUDA is not available/) });
      expect(() => create('cuda:1', 'fp32', false)).toThrow(expect.objectContaining({ message: expect.stringMatching(/conflicts with 1 CUDA fp32 model/) }));
      await a.dispose(false);
      // A disposed model gives its claim back: the other setting is free again.
      await b.dispose(false);
      const c = create('cuda:0', 'fp32', false);
      expect(() => create('cuda:0', 'fp32', true)).toThrow(expect.objectContaining({ code: 'TCE_INVALID_OPTION' }));
      await Promise.all([c, ...others].map((m) => m.dispose(false)));
    });

    test('a sparse documents array names the missing document', async () => {
      // eslint-disable-next-line no-sparse-arrays
      const docs = ['d0', 'd1', , 'd3'] as string[];
      await expect(model.rank('q', docs)).rejects.toEqual(expect.objectContaining({ code: 'TCE_INVALID_INPUT', message: 'documents[2] must be a string, got undefined' }));
    });
  });

  describe('onProgress that fails', () => {
    const many = Array.from({ length: 20 }, () => short);

    test('a throw rejects the call with that error; the model stays usable', async () => {
      const boom = new Error('progress failed');
      let reports = 0;
      await expect(model.predict(many, { batchSize: 1, onProgress: () => { reports++; throw boom; } })).rejects.toBe(boom);
      expect(reports).toBe(1);
      expect(await model.predict(many)).toHaveLength(many.length);
    });

    test('a rejected promise rejects the call with that error, also after the last batch', async () => {
      const boom = new Error('async progress failed');
      await expect(model.predict(many, { batchSize: 1, onProgress: async () => { throw boom; } })).rejects.toBe(boom);
      // One batch: the only report is the last one, and the call must not resolve past it.
      await expect(model.predict([short], { onProgress: () => Promise.reject(boom) })).rejects.toBe(boom);
      expect(await model.predict(short)).toEqual(expect.any(Number));
    });
  });

  test('stats() leaves out forwards whose output had the wrong shape', async () => {
    // config.json declares 2 labels; the model returns 1.
    const copy = copyModel((c) => editConfig(c, 'config.json', { num_labels: 2 }));
    const m = await CrossEncoder.load(copy, { device: 'cpu' });
    await expect(m.predict([short, short])).rejects.toMatchObject({ name: 'TceError', code: 'TCE_FORWARD_FAILED', message: expect.stringMatching(/returned 1 label\(s\) per pair, but config\.json declares 2/) });
    expect(m.stats()).toMatchObject({ forwards: 0, pairs: 0, tokens: 0 });
    await m.dispose();
  });

  describe('dispose({ abort: true })', () => {
    const many = Array.from({ length: 2000 }, () => short);
    const engineOf = (m: CrossEncoder) => (m as unknown as { disposedModel: NativeModel }).disposedModel;

    // Forwards are counted by the engine: between the count read just before dispose() and the
    // end, only the forward then in progress, and one started before dispose() reached the
    // engine, may complete.
    test('stops a running call after the forward in progress', async () => {
      const m = await CrossEncoder.load(dir, { device: 'cpu' });
      let forwardsAtDispose = -1;
      let disposed: Promise<void> | undefined;
      const call = m.predict(many, {
        batchSize: 1,
        onProgress: () => {
          if (disposed) return;
          forwardsAtDispose = m.stats().forwards;
          disposed = m.dispose({ abort: true });
        },
      });
      await expect(call).rejects.toMatchObject({ name: 'TceError', code: 'TCE_DISPOSED' });
      await disposed;
      expect(engineOf(m).stats().forwards - forwardsAtDispose).toBeLessThanOrEqual(2);
      await expect(m.predict([short])).rejects.toMatchObject({ code: 'TCE_DISPOSED' });
    });

    test('cuts short a plain dispose() that is waiting for a running call', async () => {
      const m = await CrossEncoder.load(dir, { device: 'cpu' });
      let forwardsAtDispose = -1;
      let disposals: Array<Promise<void>> | undefined;
      const call = m.predict(many, {
        batchSize: 1,
        onProgress: () => {
          if (disposals) return;
          forwardsAtDispose = m.stats().forwards;
          disposals = [m.dispose(), m.dispose({ abort: true })];
        },
      });
      await expect(call).rejects.toMatchObject({ code: 'TCE_DISPOSED' });
      await Promise.all(disposals!);
      expect(engineOf(m).stats().forwards - forwardsAtDispose).toBeLessThanOrEqual(2);
    });

    test('a plain dispose() still lets the running call finish', async () => {
      const m = await CrossEncoder.load(dir, { device: 'cpu' });
      let disposed: Promise<void> | undefined;
      const call = m.predict(many.slice(0, 10), { batchSize: 1, onProgress: () => { disposed ??= m.dispose(); } });
      expect(await call).toHaveLength(10);
      await disposed;
    });
  });

  describe('large calls give the event loop turns while their texts are handed over', () => {
    // Turns of the event loop between the call and the moment its texts reach the engine
    // (startTurnCounter): a call that copied 200,000 pairs in one go would allow none.
    const big = Array.from({ length: 200_000 }, (_, i): Pair => ['query', `document ${i}`]);

    test('predict() of 200,000 pairs', async () => {
      const m = await CrossEncoder.load(dir, { device: 'cpu' });
      const engine = (m as unknown as { model: NativeModel }).model;
      const submit = engine.predict.bind(engine);
      const controller = new AbortController();
      let turnsAtSubmit = -1;
      let submitted = 0;
      // (The addon's methods are read-only on its prototype: shadowed on the instance.)
      Object.defineProperty(engine, 'predict', {
        value: (texts: NativeTextBuffer, options: Parameters<NativeModel['predict']>[1]) => {
          turnsAtSubmit = counter.turns;
          submitted = texts.size;
          const call = submit(texts, options);
          controller.abort(); // the scores are not what this test is about
          return call;
        },
      });
      const counter = startTurnCounter();
      await expect(m.predict(big, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
      counter.stop();
      expect(submitted).toBe(big.length);
      expect(turnsAtSubmit).toBeGreaterThanOrEqual(big.length / 4096 - 1);
      await m.dispose();
    });

    test('encodeBatch() of 200,000 pairs, texts in and encodings out', async () => {
      const tokenizer = Tokenizer.fromFile(vocabFile('biomedbert'));
      const engine = nativeTokenizerOf(tokenizer);
      const encode = engine.encodeBatch.bind(engine);
      let turnsAtSubmit = -1;
      let turnsAtResult = -1;
      Object.defineProperty(engine, 'encodeBatch', {
        value: async (...args: Parameters<typeof encode>) => {
          turnsAtSubmit = counter.turns;
          const result = await encode(...args);
          turnsAtResult = counter.turns;
          return result;
        },
      });
      const counter = startTurnCounter();
      const encodings = await tokenizer.encodeBatch(big, { maxLength: 16 });
      const turnsAtEnd = counter.turns;
      counter.stop();
      expect(turnsAtSubmit).toBeGreaterThanOrEqual(big.length / 4096 - 1);
      expect(turnsAtEnd - turnsAtResult).toBeGreaterThanOrEqual(big.length / 4096 - 1);
      expect(encodings).toHaveLength(big.length);
      expect(Array.from(encodings[123_456].ids)).toEqual(Array.from(tokenizer.encode('query', 'document 123456', { maxLength: 16 }).ids));
    });
  });

  test('errors are TceErrors, never a bare TypeError or RangeError from the addon', async () => {
    const attempts: Array<() => Promise<unknown>> = [
      () => model.predict(null as never),
      () => model.predict([[1, 2]] as never),
      () => model.rank(5 as never, []),
      () => model.rank('q', 'd' as never),
      () => CrossEncoder.load(5 as never),
      () => model.tokenizer.encodeBatch([['a', 'b']], { maxLength: 2 ** 40 }),
      async () => model.tokenizer.encode('a', null, { maxLength: -1 }),
    ];
    for (const attempt of attempts) {
      const error = await attempt().then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(TceError);
    }
  });
});
