#!/usr/bin/env node
// GPU check of the two batches in flight (native/engine/model_runner.h): on CUDA the executor
// launches batch N+1 (page-locked staging, non-blocking upload, kernels, non-blocking read-back,
// an event) before it waits for batch N. This must not change a single score:
//   1. one call cut into many forwards gives each pair's score alone (fp32 within 1e-4, fp16
//      within 1e-2), every forward but the first launched while the one before was in flight;
//   2. concurrent calls sharing forwards, with every forward above 4,096 tokens failing as
//      out-of-memory when it is collected (TCE_FAULT_OOM_ABOVE_TOKENS, TCE_FAULT_OOM_AT=collect:
//      after the next batch was launched), split and retried in their own slot while the other
//      batch stays in flight: every call within 1e-4 of its pairs alone (fp32);
//   3. throughput of one large fp16 call, with the executor's busy share (forwardMs / wall), the
//      share spent waiting for the device (waitMs / wall) and the share of overlapped forwards.
// Prints one JSON line; exits 1 when a bound is missed. `--smoke` runs it on the CPU with a small
// random model (checks 1 and 2 only make sense there in fp32).
import path from 'node:path';
import { abstractPairs, benchModel, require, root, stModel } from '../bench/common.mjs';

const { CrossEncoder } = require(path.join(root, 'dist', 'index.js'));
const smoke = process.argv.includes('--smoke');
const device = smoke ? 'cpu' : (process.argv[2] ?? 'cuda');
const tce = smoke
  ? benchModel('small-random', { config: path.join(root, 'scripts', 'bench', 'small-bert-config.json') })
  : stModel(path.join(root, 'bench', 'models', 'biomedbert-st')).tce;
const { pairs } = abstractPairs(smoke ? 64 : 4096);
const problems = [];

function maxDiff(a, b) {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function scoredAlone(model, subset) {
  const scores = [];
  for (const pair of subset) scores.push(await model.predict(pair));
  return scores;
}

async function withSimulatedOom(tokens, load) {
  process.env.TCE_FAULT_OOM_ABOVE_TOKENS = String(tokens);
  process.env.TCE_FAULT_OOM_AT = 'collect';
  try {
    return await load();
  } finally {
    delete process.env.TCE_FAULT_OOM_ABOVE_TOKENS;
    delete process.env.TCE_FAULT_OOM_AT;
  }
}

/** Check 1 at one precision: one call over many forwards against each pair alone. */
async function manyForwards(precision, bound) {
  const subset = pairs.slice(0, smoke ? 24 : 256);
  const model = await CrossEncoder.load(tce, { device, precision });
  const alone = await scoredAlone(model, subset);
  const before = model.stats();
  // About four pairs a forward: dozens of forwards, two in flight at a time.
  const scores = await model.predict(subset, { maxBatchTokens: 4 * 512 });
  const after = model.stats();
  await model.dispose();
  const forwards = after.forwards - before.forwards;
  const result = { precision, pairs: subset.length, forwards, overlapped: after.overlappedForwards - before.overlappedForwards, maxAbsDiffVsAlone: maxDiff(scores, alone) };
  if (!(result.maxAbsDiffVsAlone <= bound)) problems.push(`${precision}: pipelined scores differ from each pair alone by ${result.maxAbsDiffVsAlone} (bound ${bound})`);
  if (result.overlapped !== forwards - 1) problems.push(`${precision}: ${result.overlapped} of ${forwards} forwards overlapped (expected ${forwards - 1})`);
  return result;
}

/** Check 2: shared forwards split at collect while the next batch is in flight. */
async function splitsInFlight() {
  const calls = Array.from({ length: 24 }, (_, c) => { const at = (c * 9) % (pairs.length - 16); return pairs.slice(at, at + 1 + ((c * 5) % 16)); });
  const reference = await CrossEncoder.load(tce, { device, precision: 'fp32' });
  const alone = [];
  for (const call of calls) alone.push(await scoredAlone(reference, call));
  await reference.dispose();
  const budget = smoke ? 512 : 4096;
  const model = await withSimulatedOom(budget, () => CrossEncoder.load(tce, { device, precision: 'fp32', maxBatchTokens: 8 * budget, maxWaitMs: 20 }));
  const results = await Promise.all(calls.map((call) => model.predict(call)));
  const stats = model.stats();
  await model.dispose();
  const worst = Math.max(...results.map((scores, i) => maxDiff(scores, alone[i])));
  const result = { calls: calls.length, pairs: stats.pairs, forwards: stats.forwards, sharedForwards: stats.sharedForwards, meanPaddedTokens: Math.round(stats.paddedTokens / stats.forwards), maxAbsDiffVsAlone: worst };
  if (!(worst <= 1e-4)) problems.push(`split forwards: scores differ from each pair alone by ${worst} (bound 1e-4)`);
  if (stats.paddedTokens > budget * stats.forwards) problems.push('split forwards: a forward above the simulated budget was counted');
  return result;
}

/** Check 3: one large call, how busy the executor and the device were. */
async function throughput() {
  const model = await CrossEncoder.load(tce, { device });
  await model.predict(pairs.slice(0, 256));  // warm-up
  const before = model.stats();
  const started = performance.now();
  await model.predict(pairs);
  const ms = performance.now() - started;
  const after = model.stats();
  await model.dispose();
  const forwards = after.forwards - before.forwards;
  const round3 = (x) => Number(x.toFixed(3));
  return {
    precision: model.precision,
    pairs: pairs.length,
    pairsPerSec: round3((pairs.length / ms) * 1000),
    forwards,
    overlappedShare: round3((after.overlappedForwards - before.overlappedForwards) / forwards),
    executorBusyShare: round3((after.forwardMs - before.forwardMs) / ms),
    deviceWaitShare: round3((after.waitMs - before.waitMs) / ms),
  };
}

const result = {
  device,
  manyForwards: [await manyForwards('fp32', 1e-4), ...(smoke ? [] : [await manyForwards('fp16', 1e-2)])],
  splitsInFlight: await splitsInFlight(),
  throughput: await throughput(),
  problems,
};
console.log(JSON.stringify(result));
if (problems.length > 0) {
  for (const problem of problems) console.error(`pipeline: ${problem}`);
  process.exitCode = 1;
}
