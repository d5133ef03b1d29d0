/**
 * Fixture models for tests: small random-weight BERT cross-encoders built by
 * scripts/make-fixture-model.py in plain torch, and their reference scores, computed one pair at
 * a time without padding from ids that Hugging Face's Rust tokenizer produced.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './child';
import { bertTokenizerJson, hfFromJson, hfPairs, readVocab } from './hf-reference';
import { CrossEncoder, type LoadOptions } from '../../lib/cross-encoder';
import { findLibtorch } from '../../lib/libtorch';
import { torchPython } from '../../scripts/torch-python.mjs';

export const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
const fixturesDir = path.join(repoRoot, 'test', 'fixtures');
const modelsDir = path.join(fixturesDir, 'models');
const script = path.join(repoRoot, 'scripts', 'make-fixture-model.py');

export { torchPython };

/** Why tests that run models must be skipped here (no torch to build fixtures, no libtorch), or null. */
export function modelTestsSkipReason(): string | null {
  if (!torchPython()) return 'no python with torch to build fixture models (apt-get install python3-torch, or set TCE_PYTHON)';
  try {
    findLibtorch();
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
}

/**
 * Loads a model whose forwards above `tokens` padded tokens report device out-of-memory
 * (TCE_FAULT_OOM_ABOVE_TOKENS, read when the model is created), as a GPU would: when the batch
 * is submitted, or (`at: 'collect'`, TCE_FAULT_OOM_AT) only when its scores are collected, after
 * the batch behind it has been launched.
 */
export async function loadWithSimulatedOom(dir: string, tokens: number, options: LoadOptions, at: 'submit' | 'collect' = 'submit'): Promise<CrossEncoder> {
  process.env.TCE_FAULT_OOM_ABOVE_TOKENS = String(tokens);
  process.env.TCE_FAULT_OOM_AT = at;
  try {
    return await CrossEncoder.load(dir, options);
  } finally {
    delete process.env.TCE_FAULT_OOM_ABOVE_TOKENS;
    delete process.env.TCE_FAULT_OOM_AT;
  }
}

export function vocabFile(name: 'biomedbert' | 'bert_base_uncased'): string {
  const committed = path.join(fixturesDir, 'tokenizer', `${name}_vocab.txt`);
  return fs.existsSync(committed) ? committed : path.join(sharedData, `${name}_vocab.txt`);
}

function run(args: string[]): void {
  const python = torchPython();
  if (!python) throw new Error('no python with torch (install python3-torch or set TCE_PYTHON)');
  const result = spawnSync(python, [script, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`make-fixture-model.py ${args[0]} failed:\n${result.stderr}`);
}

export interface FixtureOptions {
  numLabels: number;
  vocab: 'biomedbert' | 'bert_base_uncased';
  legacyActivationKey?: boolean;
  maxPositionEmbeddings?: number;
  /** The inputs the graph takes (default all three; two, as DeBERTa-v3 / ModernBERT exports). */
  inputs?: 'input_ids,attention_mask';
}

/** Builds (once per checkout and script version) and returns the model directory. */
export function fixtureModel(name: string, options: FixtureOptions): string {
  const dir = path.join(modelsDir, name);
  const stamp = path.join(dir, '.built-from');
  const want = JSON.stringify({ options, script: fs.statSync(script).mtimeMs });
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  const args = ['build', '--out', dir, '--vocab', vocabFile(options.vocab), '--num-labels', String(options.numLabels)];
  if (options.legacyActivationKey) args.push('--legacy-activation-key');
  if (options.maxPositionEmbeddings) args.push('--max-position-embeddings', String(options.maxPositionEmbeddings));
  if (options.inputs) args.push('--inputs', options.inputs);
  run(args);
  fs.writeFileSync(stamp, want);
  return dir;
}

/** A copy of `modelDir` whose model.pt needs an operator this libtorch lacks, as if exported by
 * PyTorch `torchVersion`. */
export function newerTorchModel(modelDir: string, torchVersion: string): string {
  const out = fs.mkdtempSync(path.join(modelsDir, 'newer-'));
  run(['simulate-newer', '--model', modelDir, '--out', out, '--torch-version', torchVersion]);
  return out;
}

/**
 * Damages a model file in place: one byte flipped in the zip entry whose name ends with `entry`
 * (its CRC left as it was), with 'truncate' the file cut in half, or with 'zip64-wrap' zip64 end
 * records whose directory offset + size wraps past 2**64 (make-fixture-model.py damage).
 */
export function damageModelFile(file: string, how: { entry: string } | 'truncate' | 'zip64-wrap'): void {
  if (how === 'truncate') run(['damage', '--file', file, '--truncate']);
  else if (how === 'zip64-wrap') run(['damage', '--file', file, '--zip64-wrap']);
  else run(['damage', '--file', file, '--entry', how.entry]);
}

/** A zip laid out as an AOTInductor package compiled for `device`, without compiled code. */
export function fakePt2(out: string, device: 'cpu' | 'cuda'): void {
  run(['fake-pt2', '--out', out, '--device', device]);
}

/** A copy of a model directory, in a new temporary folder under the fixtures. */
export function copyModelDir(dir: string, prefix: string): string {
  const out = fs.mkdtempSync(path.join(modelsDir, `${prefix}-`));
  for (const f of fs.readdirSync(dir)) {
    if (fs.statSync(path.join(dir, f)).isFile()) fs.copyFileSync(path.join(dir, f), path.join(out, f));
  }
  return out;
}

/** Reference logits: HF tokenizer ids, then one unpadded forward per pair in Python. */
export async function referenceLogits(modelDir: string, pairs: Array<[string, string]>, maxLength: number): Promise<number[][]> {
  // Segments encoded whole, then HF's own longest_first and template (see hfPairs).
  const json = bertTokenizerJson(readVocab(path.join(modelDir, 'vocab.txt')));
  const ids = await hfPairs(hfFromJson(json), hfFromJson(json), pairs, maxLength);
  const idsFile = path.join(modelDir, `ids-${process.pid}-${Date.now()}.json`);
  const outFile = `${idsFile}.expected`;
  fs.writeFileSync(idsFile, JSON.stringify(ids));
  try {
    run(['expect', '--model', modelDir, '--ids', idsFile, '--out', outFile]);
    return JSON.parse(fs.readFileSync(outFile, 'utf8')).logits;
  } finally {
    fs.rmSync(idsFile, { force: true });
    fs.rmSync(outFile, { force: true });
  }
}

export interface BioasqPair {
  query: string;
  document: string;
  label: number;
}

/** BioASQ pairs: the committed sample, or the full file from ../shared/data when asked for. */
export function bioasqPairs(limit: number): Array<[string, string]> {
  const sample = path.join(fixturesDir, 'tokenizer', 'bioasq_pairs_sample.jsonl');
  const file = fs.existsSync(sample) ? sample : path.join(sharedData, 'bioasq_pairs.jsonl');
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, limit)
    .map((line) => JSON.parse(line) as BioasqPair)
    .map((p) => [p.query, p.document]);
}
