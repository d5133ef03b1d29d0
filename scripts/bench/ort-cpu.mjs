#!/usr/bin/env node
// node scripts/bench/ort-cpu.mjs: our predict() against onnxruntime-node (what a Node user would pick
// instead) on an ONNX export of the same weights, CPU, same process, same pairs, alternating
// rounds. The onnxruntime path does what sentence-transformers and transformers.js do: Hugging
// Face `tokenizers`, batches of 32 in input order, padded to the longest in the batch.
// Also: the event loop's delay (p99) while our long predict runs, and our padding waste.
//
//   options: --pairs N (default 64)  --rounds N (default 3)  --model biomedbert-base|small
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { arg, benchModel, median, realPairs, require, root, writeResult } from './common.mjs';
import { bertTokenizerJson, readVocab } from '../hf-bert-tokenizer.mjs';
import { ortForward } from './ort-peer.mjs';

const ort = require('onnxruntime-node');
const { Tokenizer: HfTokenizer } = require('tokenizers');
const { CrossEncoder, runtimeInfo } = require(path.join(root, 'dist', 'index.js'));

const count = Number(arg('pairs', '64'));
const rounds = Number(arg('rounds', '3'));
const which = arg('model', 'biomedbert-base');
const threads = (await import('node:os')).availableParallelism();
const dir = which === 'small'
  ? benchModel('small-random', { config: path.join(root, 'scripts', 'bench', 'small-bert-config.json'), onnx: true })
  : benchModel('biomedbert-base-random', { config: 'biomedbert-base', onnx: true });
const { source, pairs } = realPairs(count);

// --- onnxruntime-node, as a Node user would wire it ---
const hf = HfTokenizer.fromString(JSON.stringify(bertTokenizerJson(readVocab(path.join(dir, 'vocab.txt')))));
hf.setTruncation(512);
const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
async function ortPredict() {
  const scores = new Float32Array(pairs.length);
  let real = 0;
  let padded = 0;
  for (let start = 0; start < pairs.length; start += 32) {
    const batch = pairs.slice(start, start + 32);
    const encodings = await Promise.all(batch.map(([q, d]) => hf.encode(q, d)));
    const { logits, width } = await ortForward(session, encodings);
    real += encodings.reduce((n, e) => n + e.getIds().length, 0);
    padded += batch.length * width;
    for (let r = 0; r < batch.length; r++) scores[start + r] = 1 / (1 + Math.exp(-logits[r]));
  }
  return { scores, paddingWaste: 1 - real / padded, padded };
}

// --- ours ---
const model = await CrossEncoder.load(dir, { device: 'cpu' });
const info = runtimeInfo();

const times = { ours: [], onnxruntime: [] };
const delays = [];
let oursScores;
let ortResult;
let ourStats;
for (let round = 0; round <= rounds; round++) {
  // Round 0 warms both up and is not counted.
  let t = performance.now();
  ortResult = await ortPredict();
  if (round > 0) times.onnxruntime.push(performance.now() - t);

  const before = model.stats();
  // A fresh histogram per round, so that it measures only while our predict runs.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  t = performance.now();
  oursScores = await model.predict(pairs);
  if (round > 0) times.ours.push(performance.now() - t);
  delay.disable();
  if (round > 0) delays.push(delay);
  const after = model.stats();
  ourStats = { forwards: after.forwards - before.forwards, tokens: after.tokens - before.tokens, padded: after.paddedTokens - before.paddedTokens };
  console.error(`round ${round}${round === 0 ? ' (warm-up)' : ''}: onnxruntime ${times.onnxruntime.at(-1)?.toFixed(0) ?? '-'} ms, ours ${times.ours.at(-1)?.toFixed(0) ?? '-'} ms`);
}

let maxDiff = 0;
for (let i = 0; i < pairs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(oursScores[i] - ortResult.scores[i]));
const rate = (ms) => Number(((pairs.length / ms) * 1000).toFixed(3));
const oursRate = rate(median(times.ours));
const ortRate = rate(median(times.onnxruntime));
const result = {
  model: `${which} (random weights, ${path.relative(root, dir)})`,
  data: source,
  pairs: pairs.length,
  rounds,
  threads,
  libtorch: `${info.libtorch.version} (${info.libtorch.source})`,
  onnxruntime: require('onnxruntime-node/package.json').version,
  ours: {
    pairsPerSec: oursRate, medianMs: Number(median(times.ours).toFixed(1)), roundsMs: times.ours.map((x) => Number(x.toFixed(1))),
    forwards: ourStats.forwards, paddingWaste: Number((1 - ourStats.tokens / ourStats.padded).toFixed(4)),
    paddedTokensPerSec: Math.round(ourStats.padded / (median(times.ours) / 1000)),
  },
  onnxruntimeNode: {
    pairsPerSec: ortRate, medianMs: Number(median(times.onnxruntime).toFixed(1)), roundsMs: times.onnxruntime.map((x) => Number(x.toFixed(1))),
    paddingWaste: Number(ortResult.paddingWaste.toFixed(4)),
    paddedTokensPerSec: Math.round(ortResult.padded / (median(times.onnxruntime) / 1000)),
  },
  ratio: Number((oursRate / ortRate).toFixed(3)),
  // Tokens computed per second, padding included: how fast each engine's forward is, apart from
  // how much padding its batching makes it compute (attention grows with the padded width, so
  // this is a rough measure).
  paddedTokenRatio: null,
  maxAbsScoreDiff: maxDiff,
  // The agreement above means something only if scores differ from pair to pair.
  onnxruntimeScoreRange: [Math.min(...ortResult.scores), Math.max(...ortResult.scores)],
  eventLoopDelayMs: {
    p99: Number((Math.max(...delays.map((d) => d.percentile(99))) / 1e6).toFixed(2)),
    max: Number((Math.max(...delays.map((d) => d.max)) / 1e6).toFixed(2)),
  },
};
result.paddedTokenRatio = Number((result.ours.paddedTokensPerSec / result.onnxruntimeNode.paddedTokensPerSec).toFixed(3));
writeResult('ort-cpu', result);
await model.dispose();
