#!/usr/bin/env node
// npm run bench:gpu: our predict() against sentence_transformers.CrossEncoder.predict in fp16 on
// the same GPU, in the same run: the same random-weight BiomedBERT-base weights
// (scripts/bench/st-model.py), the same ~300-token pairs (BioASQ question + PubMed abstract),
// rounds alternating between the two. Reports pairs/s, TFLOP/s at ~54 GFLOP a pair
// and the share of the H200's ~790 TFLOP/s, our padding waste and how busy the executor was,
// and the agreement of the two sides' scores in fp16 and fp32. Then ours in fp32 with and
// without TF32 matmuls (the tf32 load option): pairs/s, how far the scores move, and that a
// model of the other setting is refused while one is loaded (the switch is process-wide).
//
//   options: --pairs N (8192)  --rounds N (3)  --device cuda:N (cuda)
//            --budgets 16384,32768,65536 (maxBatchTokens values tried; batchSize stays the default)
//            --peer-batch-sizes 32,64,128,256,512 (32 is sentence-transformers' default)
//            --models DIR (bench/models/biomedbert-st: hf/ and tce/, built by st-model.py)
//            --smoke: a run of this script without a GPU or sentence-transformers (CPU, a
//              small random model, no peer); it writes no result file.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { abstractPairs, arg, benchModel, median, require, root, stModel, torchPython, writeResult } from './common.mjs';

const { CrossEncoder, runtimeInfo } = require(path.join(root, 'dist', 'index.js'));

const smoke = process.argv.includes('--smoke');
const device = smoke ? 'cpu' : arg('device', 'cuda');
const count = Number(arg('pairs', smoke ? '48' : '8192'));
const rounds = Number(arg('rounds', smoke ? '1' : '3'));
const budgets = arg('budgets', smoke ? '512,1024' : '16384,32768,65536').split(',').map(Number);
const peerBatchSizes = arg('peer-batch-sizes', '32,64,128,256,512');
const parityCount = Math.min(count, 1000);
// BERT-base on a ~300-token pair: ~181 MFLOP a token (12 layers of 768-wide attention and a
// 3072-wide feed-forward, 2 FLOP a multiply-add) times ~300 tokens.
const GFLOP_PER_PAIR = 54;
const PEAK_TFLOPS = 790;   // dense fp16 measured on one H200
const python = torchPython();

function models() {
  if (smoke) return { tce: benchModel('small-random', { config: path.join(root, 'scripts', 'bench', 'small-bert-config.json') }), hf: null };
  return stModel(path.resolve(arg('models', path.join(root, 'bench', 'models', 'biomedbert-st'))));
}

/** One run of the peer in its own process; its model load is not timed. */
function peer(pairsFile, hfDir, args) {
  const result = spawnSync(python, [path.join(root, 'scripts', 'bench', 'st-peer.py'), '--model', hfDir, '--pairs', pairsFile, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`scripts/bench/st-peer.py ${args.join(' ')} failed (exit ${result.status})`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1));
}

function gpuDescription() {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function compare(ours, theirs) {
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < theirs.length; i++) {
    const d = Math.abs(ours[i] - theirs[i]);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(theirs[i]), 1e-6));
  }
  return { pairs: theirs.length, maxAbsDiff: maxAbs, maxRelDiff: maxRel, theirRange: [Math.min(...theirs), Math.max(...theirs)] };
}

const rate = (n, ms) => (n / ms) * 1000;
const round3 = (x) => Number(x.toFixed(3));
const tflops = (pairsPerSec) => round3((pairsPerSec * GFLOP_PER_PAIR) / 1000);

const { hf, tce } = models();
const { source, pairs } = abstractPairs(count);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tce-gpu-bench-'));
const pairsFile = path.join(scratch, 'pairs.jsonl');
fs.writeFileSync(pairsFile, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');

const model = await CrossEncoder.load(tce, { device, precision: smoke ? 'fp32' : 'fp16' });
let meanTokens = 0;  // from the engine's counts of the first timed call

// Warm-up, not counted: every budget once on a slice (the peer warms up in its own process).
for (const budget of budgets) await model.predict(pairs.slice(0, Math.min(pairs.length, 1024)), { maxBatchTokens: budget });

const ours = Object.fromEntries(budgets.map((b) => [b, { ms: [], stats: null }]));
const theirs = {};
for (let round = 0; round < rounds; round++) {
  for (const budget of budgets) {
    const before = model.stats();
    const started = performance.now();
    await model.predict(pairs, { maxBatchTokens: budget });
    const ms = performance.now() - started;
    const after = model.stats();
    ours[budget].ms.push(ms);
    meanTokens ||= (after.tokens - before.tokens) / count;
    const forwards = after.forwards - before.forwards;
    const forwardMs = after.forwardMs - before.forwardMs;
    ours[budget].stats = {
      forwards,
      paddingWaste: round3(1 - (after.tokens - before.tokens) / (after.paddedTokens - before.paddedTokens)),
      paddedTokensPerForward: Math.round((after.paddedTokens - before.paddedTokens) / forwards),
      meanForwardMs: round3(forwardMs / forwards),
      // Share of the wall time the executor spent in the core (launching forwards, waiting for
      // and reading back their scores): what is left is tokenizing before the first forward,
      // padding, scattering and forming batches, which overlap the device's work.
      forwardShareOfWall: round3(forwardMs / ms),
      // Share of the wall time spent waiting for the device: near 1, the GPU never waits for
      // the host (two batches in flight keep it fed); low, the host sets the pace.
      deviceWaitShareOfWall: round3((after.waitMs - before.waitMs) / ms),
      // Forwards launched while the one before was still in flight.
      overlappedShare: round3((after.overlappedForwards - before.overlappedForwards) / forwards),
    };
    console.error(`round ${round} ours maxBatchTokens ${budget}: ${rate(count, ms).toFixed(0)} pairs/s`);
  }
  if (hf) {
    const run = peer(pairsFile, hf, ['--dtype', 'fp16', '--batch-sizes', peerBatchSizes, '--rounds', '1']);
    theirs.versions = { sentenceTransformers: run.sentenceTransformers, torch: run.torch, dtype: run.dtype };
    for (const [bs, rates] of Object.entries(run.pairsPerSecond)) (theirs[bs] ??= []).push(...rates);
    console.error(`round ${round} sentence-transformers: ${Object.entries(run.pairsPerSecond).map(([bs, r]) => `bs ${bs} ${r[0].toFixed(0)}`).join(', ')} pairs/s`);
  }
}

// Parity on the same run's weights: ours against sentence-transformers, fp16 and fp32.
let parity = null;
if (hf) {
  const parityPairs = pairs.slice(0, parityCount);
  const file = (dtype) => path.join(scratch, `st-${dtype}.json`);
  peer(pairsFile, hf, ['--dtype', 'fp16', '--batch-sizes', '', '--scores-out', file('fp16'), '--scores-count', String(parityCount)]);
  peer(pairsFile, hf, ['--dtype', 'fp32', '--batch-sizes', '', '--scores-out', file('fp32'), '--scores-count', String(parityCount)]);
  const fp32Model = await CrossEncoder.load(tce, { device, precision: 'fp32' });
  const ours16 = await model.predict(parityPairs);
  const ours32 = await fp32Model.predict(parityPairs);
  await fp32Model.dispose();
  parity = {
    fp16: compare(ours16, JSON.parse(fs.readFileSync(file('fp16'), 'utf8'))),
    fp32: compare(ours32, JSON.parse(fs.readFileSync(file('fp32'), 'utf8'))),
    // Nonzero when 'fp16' really runs under autocast.
    oursFp16VsFp32: compare(ours16, Array.from(ours32)),
  };
}

// TF32 (precision 'fp32', tf32: true) against plain fp32 on the same pairs, one model at a time:
// libtorch's TF32 switch is process-wide, so a model of the other setting must be refused while
// one is loaded.
async function timedScores(options, subset) {
  const m = await CrossEncoder.load(tce, { device, precision: 'fp32', ...options });
  await m.predict(subset.slice(0, Math.min(subset.length, 256)));  // warm-up
  const started = performance.now();
  const scores = await m.predict(subset);
  const ms = performance.now() - started;
  let otherSetting = null;
  try {
    await (await CrossEncoder.load(tce, { device, precision: 'fp32', tf32: !options.tf32 })).dispose();
  } catch (error) {
    otherSetting = error.code;
  }
  await m.dispose();
  return { scores, pairsPerSec: rate(subset.length, ms), otherSetting };
}
const tf32Pairs = pairs.slice(0, smoke ? count : Math.min(count, 4096));
const plain32 = await timedScores({ tf32: false }, tf32Pairs);
const tf32Run = await timedScores({ tf32: true }, tf32Pairs);
const tf32 = {
  pairs: tf32Pairs.length,
  fp32PairsPerSec: round3(plain32.pairsPerSec),
  tf32PairsPerSec: round3(tf32Run.pairsPerSec),
  speedup: round3(tf32Run.pairsPerSec / plain32.pairsPerSec),
  tf32VsFp32: compare(tf32Run.scores, Array.from(plain32.scores)),
  // The error code of loading a model of the other setting beside each (CUDA: TCE_INVALID_OPTION).
  otherSettingRefused: [plain32.otherSetting, tf32Run.otherSetting],
};

const oursRates = Object.fromEntries(budgets.map((b) => [b, rate(count, median(ours[b].ms))]));
const bestBudget = budgets.reduce((best, b) => (oursRates[b] > oursRates[best] ? b : best), budgets[0]);
const peerRates = Object.fromEntries(Object.entries(theirs).filter(([k]) => k !== 'versions').map(([bs, r]) => [bs, median(r)]));
const peerBest = Object.entries(peerRates).reduce((best, e) => (!best || e[1] > best[1] ? e : best), null);
const info = runtimeInfo();
const result = {
  model: smoke ? `small random model (${path.relative(root, tce)}), smoke run` : 'BERT-base, BiomedBERT config, random weights, 1 label (scripts/bench/st-model.py)',
  data: `${source}: BioASQ question + PubMed abstract`,
  pairs: count,
  meanTokensPerPair: round3(meanTokens),
  rounds,
  device,
  gpu: gpuDescription(),
  libtorch: `${info.libtorch.version} (${info.libtorch.source})`,
  cuda: info.cuda,
  ours: {
    precision: model.precision,
    byMaxBatchTokens: Object.fromEntries(budgets.map((b) => [b, {
      pairsPerSec: round3(oursRates[b]), tflops: tflops(oursRates[b]), shareOfPeak: round3(tflops(oursRates[b]) / PEAK_TFLOPS),
      roundsMs: ours[b].ms.map((x) => Number(x.toFixed(1))), ...ours[b].stats,
    }])),
    best: { maxBatchTokens: bestBudget, pairsPerSec: round3(oursRates[bestBudget]), tflops: tflops(oursRates[bestBudget]), shareOfPeak: round3(tflops(oursRates[bestBudget]) / PEAK_TFLOPS) },
  },
  sentenceTransformers: hf ? {
    ...theirs.versions,
    byBatchSize: Object.fromEntries(Object.entries(peerRates).map(([bs, r]) => [bs, { pairsPerSec: round3(r), tflops: tflops(r) }])),
    defaultBatchSize: 32,
    best: { batchSize: Number(peerBest[0]), pairsPerSec: round3(peerBest[1]) },
  } : null,
  ratioVsDefault: hf ? round3(oursRates[bestBudget] / peerRates['32']) : null,
  ratioVsBest: hf ? round3(oursRates[bestBudget] / peerBest[1]) : null,
  targets: { ratio: 2, pairsPerSec: 7000 },
  parity,
  tf32,
};
await model.dispose();
fs.rmSync(scratch, { recursive: true, force: true });
if (smoke) console.log(JSON.stringify(result));
else writeResult('gpu', result);

// The bounds of docs/GPU-CHECKS.md: the result is written either way, the exit status says.
const problems = [];
if (device !== 'cpu') {
  // TF32 keeps fp32's range and rounds the products' inputs to 10 mantissa bits, as fp16 does:
  // its scores may move as far as fp16's, never further.
  if (!(tf32.tf32VsFp32.maxAbsDiff <= 1e-2)) problems.push(`tf32 scores differ from fp32 ones by ${tf32.tf32VsFp32.maxAbsDiff} (bound 1e-2)`);
  if (!(tf32.tf32VsFp32.maxAbsDiff > 0)) problems.push('tf32 scores equal fp32 ones: TF32 matmuls were not switched on');
  if (tf32.otherSettingRefused.some((code) => code !== 'TCE_INVALID_OPTION')) problems.push(`a model of the other tf32 setting was not refused beside a loaded one: ${JSON.stringify(tf32.otherSettingRefused)}`);
}
if (parity) {
  if (!(parity.fp32.maxRelDiff <= 1e-4)) problems.push(`fp32 scores differ from sentence-transformers' by ${parity.fp32.maxRelDiff} relative (bound 1e-4)`);
  if (!(parity.fp16.maxAbsDiff <= 1e-2)) problems.push(`fp16 scores differ from sentence-transformers' by ${parity.fp16.maxAbsDiff} (bound 1e-2)`);
  if (!(parity.oursFp16VsFp32.maxAbsDiff > 0)) problems.push("'fp16' scores equal 'fp32' ones: the forward did not run under autocast");
}
for (const problem of problems) console.error(`parity: ${problem}`);
if (problems.length > 0) process.exitCode = 1;
