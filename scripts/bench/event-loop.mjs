#!/usr/bin/env node
// npm run bench:event-loop (node scripts/bench/event-loop.mjs): how long the event loop is held
// while the package works, measured with perf_hooks.monitorEventLoopDelay (1 ms resolution):
//   - the first CrossEncoder.load() of the process (libtorch discovery and loading included);
//   - predict() of 200,000 pairs, from the call to its scores (texts handed over in chunks);
//   - Tokenizer.encodeBatch() of the same 200,000 pairs.
// Target: p99 delay under 5 ms for each; the result line says which meet it.
//
//   options: --pairs N (200000)  --max-length N (32: short pairs keep the run to a few minutes
//            on a CPU; the hand-over and the results, not the forwards, are what hold the loop)
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { arg, benchModel, realPairs, require, root, writeResult } from './common.mjs';

const { CrossEncoder } = require(path.join(root, 'dist', 'index.js'));

const count = Number(arg('pairs', '200000'));
const maxLength = Number(arg('max-length', '32'));
const TARGET_P99_MS = 5;

/** Event-loop delay while `work` runs: p50, p99 and max in ms, and the work's wall time. */
async function delayDuring(work) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  histogram.disable();
  const toMs = (ns) => Math.round(ns / 1e4) / 100;
  return {
    value,
    delay: { p50Ms: toMs(histogram.percentile(50)), p99Ms: toMs(histogram.percentile(99)), maxMs: toMs(histogram.max), wallMs: Math.round(ms) },
  };
}

const dir = benchModel('small-random', { config: path.join(root, 'scripts', 'bench', 'small-bert-config.json') });
const { source, pairs: real } = realPairs(2000);
const pairs = Array.from({ length: count }, (_, i) => real[i % real.length]);

const load = await delayDuring(() => CrossEncoder.load(dir, { device: 'cpu', maxLength }));
const model = load.value;
const predict = await delayDuring(() => model.predict(pairs));
if (predict.value.length !== count) throw new Error(`predict returned ${predict.value.length} scores for ${count} pairs`);
const encode = await delayDuring(() => model.tokenizer.encodeBatch(pairs, { maxLength }));
await model.dispose();

const results = { load: load.delay, predict: predict.delay, encodeBatch: encode.delay };
writeResult('event-loop', {
  pairs: count,
  maxLength,
  data: source,
  targetP99Ms: TARGET_P99_MS,
  ...results,
  meetsTarget: Object.fromEntries(Object.entries(results).map(([k, d]) => [k, d.p99Ms < TARGET_P99_MS])),
});
