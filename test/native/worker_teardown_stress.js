// Stress loop for worker teardown with calls in flight (test/worker-teardown.models.test.ts runs
// it; test/native/build-sanitized-addon.sh explains the sanitizer runs):
//   node --expose-gc test/native/worker_teardown_stress.js <model dir> <workers> [seed]
// Starts <workers> worker threads, two at a time. Each loads the model and keeps calls of every
// kind going (small calls that keep finishing, large ones with progress callbacks, aborted ones);
// the main thread terminates it at a random point: before its model loaded, while calls are
// queued, running and settling. Prints one JSON line of counts; any crash ends the process.
'use strict';
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

// A sanitized addon (TCE_STRESS_ADDON=<path to tce.node>) instead of build/Release's.
if (process.env.TCE_STRESS_ADDON) {
  const gypBuild = require.resolve('node-gyp-build');
  require.cache[gypBuild] = { id: gypBuild, filename: gypBuild, loaded: true, exports: () => require(process.env.TCE_STRESS_ADDON) };
}
const pkg = path.join(__dirname, '..', '..', 'dist', 'index.js');

async function workerMain() {
  const { CrossEncoder } = require(pkg);
  const m = await CrossEncoder.load(workerData.dir, { device: 'cpu', batchSize: 2 });
  parentPort.postMessage('loaded');
  const long = Array.from({ length: 200 }, (_, i) => ['query ' + i, 'document words '.repeat(20)]);
  for (let k = 0; k < 2; k++) m.predict(long, { onProgress: () => {} }).catch(() => {});
  let settled = 0;
  // Small calls settle constantly, so that results are being delivered when the end comes.
  for (;;) {
    const controller = new AbortController();
    const calls = [
      m.predict([['q', 'a short document']]),
      m.predict([['q', 'another'], ['q2', 'and one more']], { onProgress: () => {}, signal: controller.signal }),
      m.predict([['q', 'x']], { onProgress: () => {} }),
    ];
    if (settled % 3 === 0) controller.abort();
    await Promise.allSettled(calls);
    settled += calls.length;
    parentPort.postMessage('settled');
  }
}

async function main() {
  const [dir, workersArg, seedArg] = process.argv.slice(2);
  const workers = Number(workersArg);
  let seed = Number(seedArg ?? 1) >>> 0;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const counts = { workers: 0, beforeLoad: 0, whileBusy: 0, roundsSettled: 0 };
  const one = async () => {
    const w = new Worker(__filename, { workerData: { dir } });
    w.on('error', () => {});
    const mode = random();
    let loaded = false;
    w.on('message', (m) => {
      if (m === 'loaded') loaded = true;
      else counts.roundsSettled++;
    });
    if (mode < 0.15) {
      // Terminated while loading (model load, tokenizer build in flight).
      await new Promise((resolve) => setTimeout(resolve, random() * 30));
    } else {
      await new Promise((resolve) => w.once('message', resolve));
      await new Promise((resolve) => setTimeout(resolve, random() * 60));
    }
    if (loaded) counts.whileBusy++;
    else counts.beforeLoad++;
    await w.terminate();
    counts.workers++;
  };
  for (let i = 0; i < workers; i += 2) await Promise.all(i + 1 < workers ? [one(), one()] : [one()]);
  if (global.gc) global.gc();
  console.log(JSON.stringify(counts));
}

if (isMainThread) main().catch((e) => { console.error(e); process.exit(1); });
else workerMain().catch(() => {});
