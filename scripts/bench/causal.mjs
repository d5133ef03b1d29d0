#!/usr/bin/env node
// npm run bench:causal: a Qwen3-Reranker-0.6B-size causal-LM reranker (random weights, built by
// scripts/bench/causal-model.py) on the CPU: our predict() on its TorchScript export
// (scripts/export.py, fp32) on the .venv's torch 2.13 core, against sentence-transformers 6.3's
// CrossEncoder.predict on the same torch, same pairs, in alternating rounds (the peer is a
// long-lived Python process answering one round a line). Reports the median of per-round ratios,
// the max |score difference| of the same run, the load average and each side's peak RSS.
//
//   options: --pairs N (default 8)  --rounds N (default 2, after one warm-up round each)
//            --max-seq-length N (default 512; the save is rebuilt when it differs)
//            --bf16 (also our predict with precision 'bf16': autocast, Linear weights cast at load;
//                    written as causal-cpu-bf16-DATE.json)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { arg, median, realPairs, require, root, writeResult } from './common.mjs';
import { projectPython, projectTorchDir } from '../torch-python.mjs';

const count = Number(arg('pairs', '8'));
const rounds = Number(arg('rounds', '2'));
const maxSeqLength = Number(arg('max-seq-length', '512'));
const withBf16 = process.argv.includes('--bf16');

const python = projectPython('st6');
const torchDir = projectTorchDir('st6');
if (!python || !torchDir) throw new Error('bench:causal needs the project .venv (scripts/setup.sh): sentence-transformers 6.3 and torch');
// Our side runs on the same torch as the peer: the .venv's libtorch, through its torch core.
process.env.TCE_LIBTORCH ??= torchDir;

const helper = path.join(root, 'scripts', 'bench', 'causal-model.py');
const dir = path.join(root, 'bench', 'models', `qwen3-0.6b-random-${maxSeqLength}`);
const st = path.join(dir, 'st');
const tce = path.join(dir, 'tce');
function run(args, what) {
  console.error(`${what} ...`);
  const result = spawnSync(python, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new Error(`${what} failed`);
}
if (!fs.existsSync(path.join(st, 'modules.json'))) {
  fs.rmSync(tce, { recursive: true, force: true });
  run([helper, 'build', '--out', dir, '--max-seq-length', String(maxSeqLength)], `building ${st}`);
}
if (!fs.existsSync(path.join(tce, 'model.pt'))) run([path.join(root, 'scripts', 'export.py'), st, tce], `exporting ${tce}`);

const { source, pairs } = realPairs(count);
const pairsFile = path.join(dir, `pairs-${count}.json`);
fs.writeFileSync(pairsFile, JSON.stringify(pairs));

// --- sentence-transformers, a long-lived peer ---
const peer = spawn(python, [helper, 'peer', '--model', st, '--pairs', pairsFile, '--batch-size', String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = readline.createInterface({ input: peer.stdout })[Symbol.asyncIterator]();
async function peerLine() {
  const { value, done } = await lines.next();
  if (done) throw new Error('scripts/bench/causal-model.py peer exited');
  return JSON.parse(value);
}
const peerInfo = await peerLine();
async function peerRound() {
  peer.stdin.write('round\n');
  return peerLine();
}

// --- ours ---
const { CrossEncoder, runtimeInfo } = require(path.join(root, 'dist', 'index.js'));
const models = { ours: await CrossEncoder.load(tce, { device: 'cpu' }) };
if (withBf16) models.oursBf16 = await CrossEncoder.load(tce, { device: 'cpu', precision: 'bf16' });
async function oursRound(model) {
  const started = performance.now();
  const scores = await model.predict(pairs, { batchSize: count, activation: 'identity' });
  return { seconds: (performance.now() - started) / 1000, scores: Array.from(scores) };
}

const sides = [...Object.keys(models), 'sentenceTransformers'];
const times = Object.fromEntries(sides.map((s) => [s, []]));
const last = {};
const loads = [os.loadavg()];
for (let round = 0; round <= rounds; round++) {
  // Round 0 warms every side up; the last round's scores are compared below. Alternate who goes first.
  const order = round % 2 === 0 ? sides : [...sides].reverse();
  for (const side of order) last[side] = side === 'sentenceTransformers' ? await peerRound() : await oursRound(models[side]);
  console.error(`round ${round}: ${sides.map((s) => `${s} ${last[s].seconds.toFixed(1)} s`).join(', ')}`);
  if (round > 0) for (const side of sides) times[side].push(last[side].seconds);
  loads.push(os.loadavg());
}
peer.stdin.end();
const theirs = last.sentenceTransformers;
const maxAbsDiff = (side) => Math.max(...last[side].scores.map((s, i) => Math.abs(s - theirs.scores[i])));
// Per round: sentence-transformers' seconds / ours (>1: ours faster); the median of those.
const ratio = (side) => median(times[side].map((t, i) => times.sentenceTransformers[i] / t));
const info = runtimeInfo();
for (const model of Object.values(models)) await model.dispose();
const oursSides = Object.keys(models);

writeResult(withBf16 ? 'causal-cpu-bf16' : 'causal-cpu', {
  model: {
    kind: 'Qwen3-Reranker-0.6B-size random weights (Qwen3ForCausalLM: hidden 1024, 28 layers, 16 heads, 8 KV heads, head_dim 128, intermediate 3072, vocab 151669, tied embeddings)',
    head: 'Transformer(text-generation) -> LogitScore("yes", "no"), Qwen3-Reranker-style chat template',
    tokenizer: 'byte-level BPE (~1,200 tokens) trained on the fixture texts by test/helpers/causal_fixture.py, not Qwen\'s own vocabulary',
    maxSeqLength: peerInfo.maxSeqLength,
    export: 'scripts/export.py TorchScript, fp32',
  },
  pairs: { count, source, batchSize: count },
  rounds,
  torch: peerInfo.torch,
  sentenceTransformers: peerInfo.sentenceTransformers,
  peerThreads: peerInfo.threads,
  runtime: info,
  secondsPerRound: times,
  pairsPerSecond: Object.fromEntries(sides.map((s) => [s, median(times[s].map((t) => count / t))])),
  speedupOverSt: Object.fromEntries(oursSides.map((s) => [s, ratio(s)])),
  scoresNote: 'raw logit(yes) - logit(no), no activation (identity on both sides), from the last round',
  speedupNote: 'median over rounds of (sentence-transformers seconds / our seconds); >1: ours faster',
  maxAbsScoreDiff: Object.fromEntries(oursSides.map((s) => [s, maxAbsDiff(s)])),
  scores: Object.fromEntries(sides.map((s) => [s, last[s].scores])),
  peakRssMiB: { ours: process.resourceUsage().maxRSS / 1024, oursNote: withBf16 ? 'the Node process, fp32 and bf16 models both loaded' : 'the Node process', sentenceTransformers: theirs.maxRssKiB / 1024 },
  loadAverage: loads,
});
