#!/usr/bin/env node
// npm run bench:cpu: the CPU frontier against sentence-transformers on the same torch (the
// project's .venv, torch 2.x), in one run:
// - throughput: sentence_transformers.CrossEncoder.predict in fp32 and in bf16 (weights and
//   activations, model_kwargs torch_dtype) against our predict() on TorchScript (fp32, and
//   precision 'bf16') and on AOTInductor packages compiled for fp32 and for bf16, on a random-weight
//   BERT-base (BiomedBERT's config) and (BioASQ question, PubMed abstract) pairs of real length.
//   Rounds are interleaved and their order rotates; each ratio is the median of the rounds' ratios
//   (each round's engines ran back to back, under the same load). The load average is recorded
//   with every round: the development machine is shared.
// - contention: single-pair predict() latency with default options, quiet and beside one busy
//   process (scripts/bench/cpu-contention.mjs), with the OpenMP wait policy this package sets
//   (PASSIVE) and with libgomp's own default (spinning, GOMP_SPINCOUNT=300000), alternating.
//
//   npm run bench:cpu -- [--pairs N (48)] [--rounds N (3)] [--contention-rounds N (3)] [--calls N (20)]
//                        [--skip throughput|contention] [--ours torchscript-fp32,torchscript-bf16,pt2-fp32,pt2-bf16]
// (--ours: a subset of our engines, e.g. without the packages, whose export compiles for minutes.)
// Writes bench/results/cpu-<date>.json.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectPython, projectTorchDir } from '../torch-python.mjs';
import { abstractPairs, arg, median, require, root, writeResult } from './common.mjs';

process.env.TCE_LIBTORCH ??= projectTorchDir('st6') ?? '';
const python = projectPython('st6');
if (!python || !process.env.TCE_LIBTORCH) {
  console.error('cpu.mjs needs the project .venv (torch 2.x, transformers, sentence-transformers): run scripts/setup.sh');
  process.exit(1);
}
const { CrossEncoder, runtimeInfo } = require(path.join(root, 'dist', 'index.js'));

const count = Number(arg('pairs', '48'));
const rounds = Number(arg('rounds', '3'));
const skip = arg('skip', '');
const load = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const r3 = (x) => Number(x.toFixed(3));

function run(script, args, env = process.env) {
  const result = spawnSync(python, [path.join(root, 'scripts', ...script), ...args], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env });
  if (result.status !== 0) throw new Error(`${script.join('/')} ${args.join(' ')} failed (exit ${result.status})`);
  return result.stdout.trim().split('\n').at(-1);
}

// Ours: each format in its own directory (the directory decides which file loads).
const OURS = {
  'torchscript-fp32': { format: 'torchscript', precision: 'fp32' },
  'torchscript-bf16': { format: 'torchscript', precision: 'bf16' },
  'pt2-fp32': { format: 'pt2', precision: 'fp32' },
  'pt2-bf16': { format: 'pt2-bf16', precision: 'bf16' },
};
for (const name of Object.keys(OURS)) if (!arg('ours', Object.keys(OURS).join(',')).split(',').includes(name)) delete OURS[name];
const PEERS = { 'sentence-transformers-fp32': 'fp32', 'sentence-transformers-bf16': 'bf16' };

async function throughput() {
  const dir = path.join(root, 'bench', 'models', 'biomedbert-st');
  const formats = [...new Set(Object.values(OURS).map((o) => o.format))].join(',');
  console.error(`exporting BERT-base as ${formats} (once; a package compiles for minutes) ...`);
  const built = JSON.parse(run(['bench', 'st-model.py'], [dir, '--formats', formats]));
  const { source, pairs } = abstractPairs(count);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tce-cpu-'));
  const pairsFile = path.join(scratch, 'pairs.jsonl');
  fs.writeFileSync(pairsFile, pairs.map((p) => JSON.stringify(p)).join('\n'));

  const models = {};
  for (const [name, { format, precision }] of Object.entries(OURS)) {
    models[name] = await CrossEncoder.load(built.formats[format].dir, { device: 'cpu', precision });
  }
  const order = [...Object.keys(OURS), ...Object.keys(PEERS)];
  const seconds = Object.fromEntries(order.map((e) => [e, []]));
  const scores = {};
  const loads = [];
  let versions;
  let tokens = 0;
  try {
    for (let round = 0; round <= rounds; round++) {
      // Round 0 warms every engine up and takes the scores; the order rotates each round.
      loads.push(load());
      for (let k = 0; k < order.length; k++) {
        const engine = order[(k + round) % order.length];
        if (engine in PEERS) {
          const scoresFile = round === 0 ? path.join(scratch, `${engine}.json`) : null;
          // One round in its own process (its model load is not timed), at its default threads.
          const out = JSON.parse(run(['bench', 'st-peer.py'], ['--model', built.hf, '--pairs', pairsFile, '--device', 'cpu',
            '--dtype', PEERS[engine], '--batch-sizes', '32', '--rounds', '1', ...(scoresFile ? ['--scores-out', scoresFile, '--scores-count', String(pairs.length)] : [])]));
          versions = { sentenceTransformers: out.sentenceTransformers, torch: out.torch };
          if (scoresFile) scores[engine] = JSON.parse(fs.readFileSync(scoresFile, 'utf8'));
          if (round > 0) seconds[engine].push(pairs.length / out.pairsPerSecond['32'][0]);
          continue;
        }
        const before = models[engine].stats();
        const started = performance.now();
        const got = await models[engine].predict(pairs);
        const elapsed = (performance.now() - started) / 1000;
        if (round === 0) {
          scores[engine] = Array.from(got);
          tokens = models[engine].stats().tokens - before.tokens;
        } else seconds[engine].push(elapsed);
      }
      console.error(`round ${round}${round === 0 ? ' (warm-up)' : ''}, load ${loads.at(-1).join(' ')}: ${order.map((e) => `${e} ${seconds[e].at(-1)?.toFixed(2) ?? '-'} s`).join(', ')}`);
    }
    loads.push(load());
  } finally {
    await Promise.all(Object.values(models).map((m) => m.dispose()));
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const ratio = (engine, peer) => r3(median(seconds[peer].map((s, i) => s / seconds[engine][i])));
  const maxDiff = (a, b) => r3(Math.max(...scores[a].map((s, i) => Math.abs(s - scores[b][i]))));
  const engines = {};
  for (const engine of order) {
    engines[engine] = {
      medianSeconds: r3(median(seconds[engine])),
      roundsSeconds: seconds[engine].map(r3),
      vsSentenceTransformersFp32: ratio(engine, 'sentence-transformers-fp32'),
      vsSentenceTransformersBf16: ratio(engine, 'sentence-transformers-bf16'),
      maxAbsScoreDiffVsSentenceTransformersFp32: maxDiff(engine, 'sentence-transformers-fp32'),
    };
  }
  return {
    model: 'BERT-base (BiomedBERT config), random weights, 1 label',
    data: `${source}: BioASQ questions x PubMed abstracts`,
    pairs: pairs.length,
    tokens,
    rounds,
    loadAverages: loads,
    sentenceTransformers: { batchSize: 32, ...versions },
    engines,
    exports: Object.fromEntries(Object.entries(built.formats).map(([name, f]) => [name, { bytes: f.bytes, compileSeconds: f.compileSeconds ?? null }])),
    scoreRange: [Math.min(...scores['sentence-transformers-fp32']), Math.max(...scores['sentence-transformers-fp32'])],
  };
}

function contention() {
  const dir = path.join(root, 'bench', 'models', 'biomedbert-st', 'tce');
  const settings = { 'ours (OMP_WAIT_POLICY=PASSIVE)': {}, "libgomp's default (GOMP_SPINCOUNT=300000)": { GOMP_SPINCOUNT: '300000' } };
  const results = Object.fromEntries(Object.keys(settings).map((s) => [s, { quietMs: [], busyMs: [], ratios: [], loadAverages: [] }]));
  const contentionRounds = Number(arg('contention-rounds', '3'));
  for (let round = 0; round < contentionRounds; round++) {
    for (const [name, env] of Object.entries(settings)) {
      const before = load();
      const child = spawnSync(process.execPath, [path.join(root, 'scripts', 'bench', 'cpu-contention.mjs'), dir, '--calls', arg('calls', '20'), '--rounds', '1'],
        { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env: { ...process.env, ...env } });
      if (child.status !== 0) throw new Error(`cpu-contention.mjs failed (exit ${child.status})`);
      const out = JSON.parse(child.stdout.trim().split('\n').at(-1));
      const entry = results[name];
      entry.threads = out.threads;
      entry.quietMs.push(...out.quietMs);
      entry.busyMs.push(...out.busyMs);
      entry.ratios.push(...out.ratios);
      entry.loadAverages.push(before);
      console.error(`contention round ${round}, ${name}, load ${before.join(' ')}: quiet ${out.quietMs} ms, busy ${out.busyMs} ms`);
    }
  }
  for (const entry of Object.values(results)) {
    entry.medianQuietMs = r3(median(entry.quietMs));
    entry.medianBusyMs = r3(median(entry.busyMs));
    entry.medianRatio = r3(median(entry.ratios));
  }
  return { model: 'BERT-base (BiomedBERT config), random weights', pair: 'one (BioASQ question, PubMed abstract) pair', busyProcess: "node -e 'for(;;){}'", settings: results };
}

const info = runtimeInfo();
writeResult('cpu', {
  libtorch: `${info.libtorch.version} (${info.libtorch.source})`,
  cpuThreads: info.cpuThreads,
  cpu: info.cpu,
  note: 'ours: default batching (CPU: batchSize 32, maxBatchTokens 1024, length-sorted); sentence-transformers: batch 32 in input order. The machine is shared: ratios come from interleaved rounds, absolute figures are noisy (see loadAverages).',
  throughput: skip === 'throughput' ? null : await throughput(),
  contention: skip === 'contention' ? null : contention(),
});
