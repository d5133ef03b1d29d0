// The process around a model: exit while a forward runs, a worker that ends with calls queued,
// aborted calls with progress callbacks under garbage collection, and a call of zero pairs at the
// native level. Each case runs in its own Node process, since a failure here is a crash.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';
import { fixtureModel, modelTestsSkipReason, vocabFile } from './helpers/fixture-model';
import { bertTokenizerJson, readVocab } from './helpers/hf-reference';

const reason = modelTestsSkipReason();
if (reason) console.warn(`lifecycle tests skipped: ${reason}`);

describe.skipIf(reason)('process lifecycle', () => {
  let dir: string;
  let scripts: string;
  const pkg = JSON.stringify(path.join(repoRoot, 'dist', 'index.js'));

  beforeAll(() => {
    dir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    scripts = tempDir('lifecycle');
  });

  function run(name: string, source: string, args: string[] = [], timeout = 120_000) {
    const file = path.join(scripts, `${name}.js`);
    fs.writeFileSync(file, source);
    return spawnSync(process.execPath, ['--expose-gc', file, ...args], { encoding: 'utf8', timeout });
  }

  const busyModel = () => `
    const { CrossEncoder } = require(${pkg});
    async function busy() {
      const m = await CrossEncoder.load(${JSON.stringify(dir)}, { device: 'cpu', batchSize: 2 });
      const long = Array.from({ length: 400 }, (_, i) => ['query ' + i, 'document words '.repeat(30)]);
      for (let k = 0; k < 4; k++) m.predict(long, { onProgress: () => {} }).catch(() => {});
      return m;
    }`;

  test('process.exit() while forwards run exits cleanly', () => {
    for (let i = 0; i < 3; i++) {
      const r = run('exit', `${busyModel()}
        busy().then(() => setTimeout(() => process.exit(7), 50 + ${i} * 40));`);
      expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 7, signal: null, stderr: '' });
    }
  });

  test('a worker that ends with calls queued and running does not take the process down', () => {
    const r = run('worker', `
      const { Worker, isMainThread, parentPort } = require('node:worker_threads');
      ${busyModel()}
      if (isMainThread) {
        (async () => {
          for (let i = 0; i < 4; i++) {
            const w = new Worker(__filename);
            await new Promise((resolve) => w.once('message', resolve));
            await new Promise((resolve) => setTimeout(resolve, 10 + i * 15));
            await w.terminate();
          }
          global.gc();
          console.log('main done');
        })();
      } else {
        busy().then(() => parentPort.postMessage('busy'));
      }`);
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    expect(r.stdout).toContain('main done');
  });

  test('aborted calls with progress callbacks under GC churn all settle, no crash', () => {
    const r = run('abort-gc', `
      const { CrossEncoder } = require(${pkg});
      (async () => {
        const m = await CrossEncoder.load(${JSON.stringify(dir)}, { device: 'cpu', batchSize: 1, maxBatchTokens: 64 });
        let junk = [];
        const churn = setInterval(() => { junk = Array.from({ length: 20000 }, (_, i) => ({ i })); global.gc(); }, 1);
        let settled = 0, started = 0;
        for (let round = 0; round < 10; round++) {
          const calls = [];
          for (let i = 0; i < 50; i++) {
            const controller = new AbortController();
            started++;
            calls.push(m.predict([['a', 'b'], ['c', 'd']], { onProgress: () => {}, signal: controller.signal }).then(() => settled++, () => settled++));
            if (i % 2 === 0) controller.abort();
          }
          await Promise.all(calls);
        }
        clearInterval(churn);
        await m.dispose();
        console.log(JSON.stringify({ started, settled }));
      })();`);
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    const { started, settled } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(started).toBe(10 * 50);
    expect(settled).toBe(started);
  });

  test('Tokenizer.loadFromModelDir parses in a worker thread: the main thread never parses the vocabulary', () => {
    const big = tempDir('big-vocab');
    const vocab = [...readVocab(vocabFile('biomedbert')), ...Array.from({ length: 200_000 }, (_, i) => `extra${i}`)];
    fs.writeFileSync(path.join(big, 'tokenizer.json'), JSON.stringify(bertTokenizerJson(vocab)));
    const broken = tempDir('broken-vocab');
    fs.writeFileSync(path.join(broken, 'tokenizer.json'), '{"model": ');
    const r = run('tokenizer-worker', `
      const { Tokenizer } = require(${pkg});
      (async () => {
        // Counts JSON.parse calls on this thread that are given the (multi-megabyte) tokenizer.json.
        const parse = JSON.parse;
        let bigParses = 0;
        JSON.parse = (text, reviver) => { if (typeof text === 'string' && text.length > 1e6) bigParses++; return parse(text, reviver); };
        const loaded = await Tokenizer.loadFromModelDir(process.argv[2]);
        JSON.parse = parse;
        const direct = Tokenizer.fromModelDir(process.argv[2]);
        const texts = ['extra123 and caffeine', 'CYP1A2 metabolizes extra199999'];
        const same = texts.every((t) => JSON.stringify(Array.from(loaded.encode(t).ids)) === JSON.stringify(Array.from(direct.encode(t).ids)));
        const error = await Tokenizer.loadFromModelDir(process.argv[3]).then(() => null, (e) => ({ name: e.name, code: e.code, message: e.message }));
        console.log(JSON.stringify({ bigParses, same, vocabSize: loaded.vocabSize, token: loaded.encode('extra199999').tokens[1], error }));
      })();`, [big, broken]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result).toEqual({
      bigParses: 0,
      same: true,
      vocabSize: vocab.length,
      token: 'extra199999',
      error: { name: 'TceError', code: 'TCE_TOKENIZER_FILE', message: expect.stringMatching(/broken-vocab.*tokenizer\.json: is not valid JSON/) },
    });
  });

  test('a native call of zero pairs settles at once', async () => {
    const model = await CrossEncoder.load(dir, { device: 'cpu' });
    const native = (model as unknown as { model: import('../lib/native').NativeModel }).model;
    const { native: addon } = await import('../lib/native');
    const call = native.predict(new (addon().TextBuffer)(), { batchSize: 4, maxBatchTokens: 1024, activation: 0, applySoftmax: false });
    await expect(call.promise).resolves.toHaveLength(0);
    await model.dispose();
  });

  test('maxWaitMs holds a lone small call for company, and never a running call', async () => {
    // A call of one short pair fills no batch: the idle model waits (up to 2 s; the second caller
    // comes one event-loop turn later), and the second caller joins its forward.
    const waiting = await CrossEncoder.load(dir, { device: 'cpu', maxWaitMs: 2000 });
    const first = waiting.predict([['q', 'a short document']]);
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([first, waiting.predict([['q2', 'another short document']])]);
    expect(waiting.stats()).toMatchObject({ forwards: 1, sharedForwards: 1, pairs: 2 });
    await waiting.dispose();
    // 30 long pairs under a small token budget: many forwards, none of them waited for. The wait
    // is as long as allowed, so a wait before each forward would run into the test's timeout;
    // the assertions count forwards, not time.
    const model = await CrossEncoder.load(dir, { device: 'cpu', maxWaitMs: 60_000, maxBatchTokens: 256 });
    const pairs = Array.from({ length: 30 }, (_, i): [string, string] => [`query ${i}`, 'document words '.repeat(40)]);
    await model.predict(pairs);
    const stats = model.stats();
    expect(stats.pairs).toBe(30);
    expect(stats.forwards).toBeGreaterThan(6);
    await model.dispose();
  });
});
