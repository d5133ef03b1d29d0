#!/usr/bin/env node
// The AOTInductor package on the GPU (docs/GPU-CHECKS.md, step bench-pt2): the random-weight
// BERT-base of bench:gpu (bench/models/biomedbert-st, scripts/bench/st-model.py) exported as a
// CUDA fp16 model.pt2 (--format pt2 --device cuda --precision fp16, compiled on this machine),
// against the same weights as TorchScript under fp16 autocast and sentence-transformers in fp16,
// in the same run with rounds interleaved: pairs/s and ratios, compile time and file size, and the
// agreement of the scores. Writes bench/results/gpu-pt2-<date>.json; exits 1 when a bound of
// docs/GPU-CHECKS.md is missed (the result is written either way).
//
//   node scripts/device/pt2-check.mjs [--pairs N (2048)] [--rounds N (2)] [--peer-batch-size B (128)]
//                                     [--models DIR (bench/models/biomedbert-st)]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { abstractPairs, arg, median, require, root, torchPython, writeResult } from '../bench/common.mjs';

const { CrossEncoder, runtimeInfo } = require(path.join(root, 'dist', 'index.js'));

const count = Number(arg('pairs', '2048'));
const rounds = Number(arg('rounds', '2'));
const peerBatchSize = arg('peer-batch-size', '128');
const modelsDir = path.resolve(arg('models', path.join(root, 'bench', 'models', 'biomedbert-st')));
const parityCount = Math.min(count, 1000);
const python = torchPython();
// The fp16 bound of bench:gpu: ours against sentence-transformers' fp16 scores.
const FP16_BOUND = 1e-2;

function python3(script, args) {
  const result = spawnSync(python, [path.join(root, 'scripts', ...script), ...args], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${script.join('/')} failed (exit ${result.status})`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1));
}

function compare(ours, theirs) {
  let maxAbs = 0;
  for (let i = 0; i < theirs.length; i++) maxAbs = Math.max(maxAbs, Math.abs(ours[i] - theirs[i]));
  return { pairs: theirs.length, maxAbsDiff: maxAbs };
}

// Exported once (gpu-checks.sh starts this export while the core builds); the TorchScript beside it.
const built = python3(['bench', 'st-model.py'], [modelsDir, '--formats', 'torchscript,pt2-cuda-fp16']);
const pt2 = built.formats['pt2-cuda-fp16'];
const { source, pairs } = abstractPairs(count);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tce-pt2-check-'));
const pairsFile = path.join(scratch, 'pairs.jsonl');
fs.writeFileSync(pairsFile, `${pairs.map((p) => JSON.stringify(p)).join('\n')}\n`);

const models = {
  pt2: await CrossEncoder.load(pt2.dir, { device: 'cuda', precision: 'fp16' }),
  torchscript: await CrossEncoder.load(built.formats.torchscript.dir, { device: 'cuda', precision: 'fp16' }),
};
for (const model of Object.values(models)) await model.predict(pairs.slice(0, 512));  // warm-up

const ms = { pt2: [], torchscript: [] };
const peerRates = [];
let versions = null;
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['pt2', 'torchscript'] : ['torchscript', 'pt2'];
  for (const name of order) {
    const started = performance.now();
    await models[name].predict(pairs);
    ms[name].push(performance.now() - started);
  }
  const peer = python3(['bench', 'st-peer.py'], ['--model', built.hf, '--pairs', pairsFile, '--dtype', 'fp16', '--batch-sizes', peerBatchSize, '--rounds', '1']);
  versions = { sentenceTransformers: peer.sentenceTransformers, torch: peer.torch, dtype: peer.dtype };
  peerRates.push(peer.pairsPerSecond[peerBatchSize][0]);
  console.error(`round ${round}: pt2 ${(count / ms.pt2.at(-1) * 1000).toFixed(0)}, torchscript ${(count / ms.torchscript.at(-1) * 1000).toFixed(0)}, ` +
    `sentence-transformers ${peerRates.at(-1).toFixed(0)} pairs/s`);
}

const stScores = path.join(scratch, 'st-fp16.json');
python3(['bench', 'st-peer.py'], ['--model', built.hf, '--pairs', pairsFile, '--dtype', 'fp16', '--batch-sizes', '', '--scores-out', stScores, '--scores-count', String(parityCount)]);
const reference = JSON.parse(fs.readFileSync(stScores, 'utf8'));
const parityPairs = pairs.slice(0, parityCount);
const pt2Scores = await models.pt2.predict(parityPairs);
const tsScores = await models.torchscript.predict(parityPairs);
for (const model of Object.values(models)) await model.dispose();

// A CPU load of the CUDA package is refused with the device it was compiled for.
let cpuLoad = null;
try {
  await (await CrossEncoder.load(pt2.dir, { device: 'cpu', precision: 'fp32' })).dispose();
} catch (error) {
  cpuLoad = { code: error.code, message: error.message.split('\n')[0].slice(0, 300) };
}

const rate = (list) => (count / median(list)) * 1000;
const peerRate = median(peerRates);
const info = runtimeInfo();
const result = {
  model: 'BERT-base, BiomedBERT config, random weights, 1 label (scripts/bench/st-model.py)',
  data: `${source}: BioASQ question + PubMed abstract`,
  pairs: count,
  rounds,
  libtorch: `${info.libtorch.version} (${info.libtorch.source})`,
  pt2: {
    pairsPerSec: Number(rate(ms.pt2).toFixed(1)), ratioToSentenceTransformers: Number((rate(ms.pt2) / peerRate).toFixed(3)),
    ratioToTorchScript: Number((rate(ms.pt2) / rate(ms.torchscript)).toFixed(3)),
    compileSeconds: pt2.compileSeconds ?? null, fileBytes: pt2.bytes, maxAbsDiffVsEagerAtExport: pt2.maxAbsDiffVsEager ?? null,
  },
  torchscript: { pairsPerSec: Number(rate(ms.torchscript).toFixed(1)), ratioToSentenceTransformers: Number((rate(ms.torchscript) / peerRate).toFixed(3)), fileBytes: built.formats.torchscript.bytes },
  sentenceTransformers: { ...versions, batchSize: Number(peerBatchSize), pairsPerSec: Number(peerRate.toFixed(1)) },
  parity: {
    pt2VsSentenceTransformersFp16: compare(pt2Scores, reference),
    torchscriptVsSentenceTransformersFp16: compare(tsScores, reference),
    pt2VsTorchScript: compare(pt2Scores, Array.from(tsScores)),
  },
  cpuLoadOfCudaPackage: cpuLoad,
};
fs.rmSync(scratch, { recursive: true, force: true });
writeResult('gpu-pt2', result);

const problems = [];
if (!(result.parity.pt2VsSentenceTransformersFp16.maxAbsDiff <= FP16_BOUND)) {
  problems.push(`pt2 fp16 scores differ from sentence-transformers' fp16 by ${result.parity.pt2VsSentenceTransformersFp16.maxAbsDiff} (bound ${FP16_BOUND})`);
}
if (cpuLoad?.code !== 'TCE_MODEL_LOAD_FAILED' || !/compiled for CUDA/.test(cpuLoad.message)) {
  problems.push(`a CPU load of the CUDA package was not refused as compiled for CUDA: ${JSON.stringify(cpuLoad)}`);
}
for (const problem of problems) console.error(`pt2: ${problem}`);
if (problems.length > 0) process.exitCode = 1;
