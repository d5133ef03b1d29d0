#!/usr/bin/env node
// The model formats side by side on the CPU, on one PyTorch (the project's .venv, torch 2.x):
// our predict() on TorchScript (model.pt) and on an AOTInductor package (model.pt2), against
// sentence_transformers.CrossEncoder.predict in fp32 on the same weights, in the same run, rounds
// interleaved (the order rotates each round), so that the ratios hold on a loaded machine.
// Models: a random-weight BERT-base (BiomedBERT's config, scripts/bench/st-model.py) and the
// bundled model (models/biomed-minilm-ce, rebuilt as a CrossEncoder save by
// scripts/st-from-export.py); pairs: BioASQ questions against PubMed abstracts (~300 tokens).
// Reports pairs/s per engine and its ratio to sentence-transformers (the median of the rounds'
// ratios: each round's engines ran back to back, under the same load), each export's compile
// time and file size, and the largest score difference from sentence-transformers.
//
//   node scripts/bench/formats.mjs [--models base,bundled] [--pairs N (24)] [--bundled-pairs N (96)]
//                                  [--rounds N (3)]
// Runs on TCE_LIBTORCH, else the .venv's torch (a .pt2 needs libtorch 2.6+). Writes
// bench/results/formats-<date>.json.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectPython, projectTorchDir } from '../torch-python.mjs';
import { abstractPairs, arg, median, require, root, writeResult } from './common.mjs';

process.env.TCE_LIBTORCH ??= projectTorchDir('st6') ?? '';
const python = projectPython('st6');
if (!python || !process.env.TCE_LIBTORCH) {
  console.error('formats.mjs needs the project .venv (torch 2.x, transformers, sentence-transformers): run scripts/setup.sh');
  process.exit(1);
}
const { CrossEncoder, runtimeInfo } = require(path.join(root, 'dist', 'index.js'));

const which = arg('models', 'base,bundled').split(',');
const rounds = Number(arg('rounds', '3'));
const ENGINES = ['torchscript', 'pt2'];

function run(script, args) {
  const result = spawnSync(python, [path.join(root, 'scripts', ...script), ...args], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${script.join('/')} ${args.join(' ')} failed (exit ${result.status})`);
  return result.stdout.trim().split('\n').at(-1);
}

/** The model in every format: { hf, formats: { name: { dir, bytes, compileSeconds, ... } } }. */
function buildModel(name) {
  const dir = path.join(root, 'bench', 'models', name === 'base' ? 'biomedbert-st' : 'bundled-st');
  const args = [dir, '--formats', ENGINES.join(',')];
  if (name === 'bundled') {
    const source = path.join(dir, 'hf');
    if (!fs.existsSync(path.join(source, 'config.json'))) run(['st-from-export.py'], [path.join(root, 'models', 'biomed-minilm-ce'), source]);
    args.push('--source', source);
  }
  console.error(`${name}: exporting ${ENGINES.join(', ')} (once; a package compiles for minutes on a small machine) ...`);
  return JSON.parse(run(['bench', 'st-model.py'], args));
}

/** One sentence-transformers round in its own process (its model load is not timed). */
function stRound(hf, pairsFile, scoresFile, count) {
  const out = JSON.parse(run(['bench', 'st-peer.py'], ['--model', hf, '--pairs', pairsFile, '--device', 'cpu', '--dtype', 'fp32',
    '--batch-sizes', '32', '--rounds', '1', ...(scoresFile ? ['--scores-out', scoresFile, '--scores-count', String(count)] : [])]));
  return { rate: out.pairsPerSecond['32'][0], versions: { sentenceTransformers: out.sentenceTransformers, torch: out.torch } };
}

async function measure(name, count) {
  const built = buildModel(name);
  const { source, pairs } = abstractPairs(count);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tce-formats-'));
  const pairsFile = path.join(scratch, 'pairs.jsonl');
  fs.writeFileSync(pairsFile, pairs.map((p) => JSON.stringify(p)).join('\n'));
  const models = {};
  for (const engine of ENGINES) {
    // Each format sits in its own directory, so the directory decides which file loads.
    models[engine] = await CrossEncoder.load(built.formats[engine].dir, { device: 'cpu' });
  }
  const rates = Object.fromEntries([...ENGINES, 'sentenceTransformers'].map((e) => [e, []]));
  const scores = {};
  let versions;
  const order = [...ENGINES, 'sentenceTransformers'];
  try {
    for (let round = 0; round <= rounds; round++) {
      // Round 0 warms every engine up (and takes the scores); the order rotates each round.
      for (let k = 0; k < order.length; k++) {
        const engine = order[(k + round) % order.length];
        if (engine === 'sentenceTransformers') {
          const st = stRound(built.hf, pairsFile, round === 0 ? path.join(scratch, 'st-scores.json') : null, pairs.length);
          versions = st.versions;
          if (round > 0) rates[engine].push(st.rate);
          continue;
        }
        const started = performance.now();
        const got = await models[engine].predict(pairs);
        const ms = performance.now() - started;
        if (round === 0) scores[engine] = got;
        else rates[engine].push((pairs.length / ms) * 1000);
      }
      console.error(`${name} round ${round}${round === 0 ? ' (warm-up)' : ''}: ${order.map((e) => `${e} ${rates[e].at(-1)?.toFixed(2) ?? '-'}`).join(', ')} pairs/s`);
    }
  } finally {
    await Promise.all(Object.values(models).map((m) => m.dispose()));
  }
  const reference = JSON.parse(fs.readFileSync(path.join(scratch, 'st-scores.json'), 'utf8'));
  fs.rmSync(scratch, { recursive: true, force: true });
  const stRate = median(rates.sentenceTransformers);
  const engines = {};
  for (const engine of ENGINES) {
    let maxDiff = 0;
    for (let i = 0; i < reference.length; i++) maxDiff = Math.max(maxDiff, Math.abs(scores[engine][i] - reference[i]));
    const format = built.formats[engine];
    engines[engine] = {
      pairsPerSec: Number(median(rates[engine]).toFixed(3)),
      roundsPairsPerSec: rates[engine].map((r) => Number(r.toFixed(3))),
      ratioToSentenceTransformers: Number(median(rates[engine].map((r, i) => r / rates.sentenceTransformers[i])).toFixed(3)),
      ratioToTorchScript: Number(median(rates[engine].map((r, i) => r / rates.torchscript[i])).toFixed(3)),
      maxAbsScoreDiffVsSentenceTransformers: maxDiff,
      fileBytes: format.bytes,
      compileSeconds: format.compileSeconds ?? null,
      exportSeconds: format.exportSeconds ?? null,
    };
  }
  return {
    model: name === 'base' ? 'BERT-base (BiomedBERT config), random weights, 1 label' : 'bundled biomed-minilm-ce (MiniLM-L6, 384 wide)',
    data: `${source}: BioASQ questions x PubMed abstracts`,
    pairs: pairs.length,
    sentenceTransformers: { pairsPerSec: Number(stRate.toFixed(3)), roundsPairsPerSec: rates.sentenceTransformers.map((r) => Number(r.toFixed(3))), batchSize: 32, ...versions },
    ours: engines,
    scoreRange: [Math.min(...reference), Math.max(...reference)],
  };
}

const results = {};
for (const name of which) {
  results[name] = await measure(name, Number(name === 'base' ? arg('pairs', '24') : arg('bundled-pairs', '96')));
}
const info = runtimeInfo();
writeResult('formats', {
  libtorch: `${info.libtorch.version} (${info.libtorch.source})`,
  threads: os.availableParallelism(),
  rounds,
  note: 'ours: default batching (CPU: batchSize 32, maxBatchTokens 1024, length-sorted); sentence-transformers: batch 32 in input order. Ratios come from interleaved rounds; the machine may be shared, so absolute figures are noisy.',
  models: results,
});
