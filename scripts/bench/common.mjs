// What every benchmark shares: the machine and commit it ran on, the pairs it scores, the
// random-weight models it builds, and where its one-line JSON result goes (bench/results/).
import { execSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { torchPython } from '../torch-python.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const require = createRequire(import.meta.url);
// TCE_BENCH_DATA: where ../shared/data's files are on a machine without ../shared (the GPU one).
const shared = process.env.TCE_BENCH_DATA ? path.resolve(process.env.TCE_BENCH_DATA) : path.resolve(root, '..', 'shared', 'data');
const fixtures = path.join(root, 'test', 'fixtures', 'tokenizer');

export function machine() {
  return { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model, node: process.version, platform: `${process.platform}-${process.arch}` };
}

export function commit() {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
}

/** Prints the result as one JSON line and writes it to bench/results/<name>-<date>.json. */
export function writeResult(name, result) {
  const full = { benchmark: name, date: new Date().toISOString(), commit: commit(), machine: machine(), ...result };
  const line = JSON.stringify(full);
  const dir = path.join(root, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}-${full.date.slice(0, 10)}.json`), `${line}\n`);
  console.log(line);
  return full;
}

function readJsonl(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** BioASQ pairs and PubMed abstracts from ../shared/data, or the committed samples without it. */
function corpora() {
  const haveShared = fs.existsSync(path.join(shared, 'bioasq_pairs.jsonl')) && fs.existsSync(path.join(shared, 'pubmed_abstracts.jsonl'));
  const from = (name, sample) => readJsonl(haveShared ? path.join(shared, name) : path.join(fixtures, sample));
  return {
    source: !haveShared ? 'test/fixtures (samples)' : process.env.TCE_BENCH_DATA ? `${process.env.TCE_BENCH_DATA} (copy of ../shared/data)` : '../shared/data',
    bioasq: from('bioasq_pairs.jsonl', 'bioasq_pairs_sample.jsonl'),
    abstracts: from('pubmed_abstracts.jsonl', 'pubmed_sample.jsonl'),
  };
}

/**
 * Real pairs: half BioASQ (question, snippet) pairs, half (question, PubMed abstract) pairs,
 * interleaved.
 */
export function realPairs(count) {
  const { source, bioasq, abstracts } = corpora();
  const pairs = [];
  for (let i = 0; pairs.length < count; i++) {
    const p = bioasq[i % bioasq.length];
    pairs.push(i % 2 === 0 ? [p.query, p.document] : [p.query, abstracts[i % abstracts.length].text]);
  }
  return { source, pairs };
}

/**
 * Long reranking pairs (~56-char question, ~1,200-char document, ~300 tokens): the BioASQ
 * questions against PubMed abstracts, each list cycled.
 */
export function abstractPairs(count) {
  const { source, bioasq, abstracts } = corpora();
  const questions = [...new Set(bioasq.map((p) => p.query))];
  const pairs = Array.from({ length: count }, (_, i) => [questions[i % questions.length], abstracts[i % abstracts.length].text]);
  return { source, pairs };
}

export { torchPython };

/**
 * The random-weight BERT-base of the GPU checks under `dir`, built once by
 * scripts/bench/st-model.py (needs transformers): { hf, tce } directories of the same weights.
 */
export function stModel(dir) {
  const built = spawnSync(torchPython(), [path.join(root, 'scripts', 'bench', 'st-model.py'), dir], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (built.status !== 0) throw new Error('scripts/bench/st-model.py failed (it needs torch and transformers)');
  return JSON.parse(built.stdout.trim().split('\n').at(-1));
}

/**
 * A random-weight cross-encoder under bench/models/<name>, built once by
 * scripts/make-fixture-model.py: `config` picks the architecture ('biomedbert-base' is
 * BiomedBERT-base's own config.json), `onnx` also exports the same weights to model.onnx.
 */
export function benchModel(name, { config, onnx = false }) {
  const dir = path.join(root, 'bench', 'models', name);
  const script = path.join(root, 'scripts', 'make-fixture-model.py');
  const python = torchPython();
  const run = (args) => {
    if (!python) throw new Error('benchmarks build their model with a python that has torch (apt-get install python3-torch, or set TCE_PYTHON)');
    const result = spawnSync(python, [script, ...args], { stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`make-fixture-model.py ${args[0]} failed`);
  };
  if (!fs.existsSync(path.join(dir, 'model.pt'))) {
    const args = ['build', '--out', dir, '--vocab', path.join(fixtures, 'biomedbert_vocab.txt'), '--init', 'bert'];
    if (config === 'biomedbert-base') args.push('--config', path.join(fixtures, 'biomedbert_config.json'));
    else if (config) args.push('--config', config);
    console.error(`building ${dir} ...`);
    run(args);
  }
  if (onnx && !fs.existsSync(path.join(dir, 'model.onnx'))) {
    console.error(`exporting ${dir}/model.onnx ...`);
    run(['onnx', '--model', dir, '--out', path.join(dir, 'model.onnx')]);
  }
  return dir;
}

/** A seeded LCG in [0, 1): the same request plan in every round, so configurations compare. */
export function seededRandom(seed) {
  let state = seed;
  return () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}
