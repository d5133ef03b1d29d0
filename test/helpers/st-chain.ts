/**
 * sentence-transformers 6.3 saves beyond a classifier (module chains, causal-LM LogitScore
 * rerankers), built by test/helpers/st_chain_fixture.py, exported by scripts/export.py, and the
 * references the fixture script computes for them.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectPython } from '../../scripts/torch-python.mjs';
import { repoRoot } from './child';

export const chainScript = path.join(repoRoot, 'test', 'helpers', 'st_chain_fixture.py');
export const exportScript = path.join(repoRoot, 'scripts', 'export.py');
const modelsDir = path.join(repoRoot, 'test', 'fixtures', 'models');

export type ChainKind = 'ettin' | 'ettin-mean' | 'custom' | 'qwen3' | 'qwen2' | 'qwen3-true' | 'llama';

/** Why these tests cannot run here (no .venv with sentence-transformers 6.3), or null. */
export function chainSkipReason(): string | null {
  const python = projectPython('st6');
  if (!python) return 'no .venv with sentence-transformers (run scripts/setup.sh)';
  const r = spawnSync(python, ['-c', 'import sentence_transformers as s; print(s.__version__)'], { encoding: 'utf8' });
  const version = r.stdout.trim();
  if (r.status !== 0 || !/^(6\.([3-9]|\d\d)|[7-9])/.test(version)) return `.venv has sentence-transformers ${version || '?'}, these saves need 6.3+ (scripts/python/st6.txt)`;
  return null;
}

function python(args: string[], what: string): string {
  const r = spawnSync(projectPython('st6')!, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${what} failed:\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

/** The save of `kind` (built once per checkout and fixture-script version): DIR/st. */
export function chainSave(kind: ChainKind): string {
  const dir = path.join(modelsDir, `st63-${kind}`);
  const stamp = path.join(dir, '.built-from');
  const want = JSON.stringify({ script: fs.statSync(chainScript).mtimeMs });
  if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want)) {
    python([chainScript, 'build', '--kind', kind, '--out', dir], `st_chain_fixture.py build ${kind}`);
    fs.writeFileSync(stamp, want);
  }
  return path.join(dir, 'st');
}

/** scripts/export.py SAVE OUT FLAGS... (OUT reused while the save and the exporter are unchanged). */
export function chainExport(save: string, name: string, flags: string[] = []): string {
  const out = path.join(path.dirname(save), name);
  const stamp = path.join(out, '.built-from');
  const sources = [exportScript, ...fs.readdirSync(path.join(repoRoot, 'scripts', 'export')).filter((f) => f.endsWith('.py'))
    .map((f) => path.join(repoRoot, 'scripts', 'export', f)), path.join(repoRoot, 'scripts', 'export_arch.py')];
  const want = JSON.stringify({ flags, save: fs.statSync(path.join(path.dirname(save), '.built-from')).mtimeMs,
    sources: sources.map((f) => fs.statSync(f).mtimeMs) });
  if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want)) {
    fs.rmSync(out, { recursive: true, force: true });
    python([exportScript, save, out, ...flags], `export.py ${save} ${flags.join(' ')}`);
    fs.writeFileSync(stamp, want);
  }
  return out;
}

/** Runs export.py expecting a refusal; returns its exit status and stderr. */
export function exportRefusal(save: string, out: string, flags: string[] = []): { status: number | null; stderr: string } {
  const r = spawnSync(projectPython('st6')!, [exportScript, save, out, ...flags], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

/** Writes `value` as JSON to a scratch file next to the models; returns its path. */
export function scratchJson(name: string, value: unknown): string {
  fs.mkdirSync(modelsDir, { recursive: true });
  const file = path.join(modelsDir, `${name}-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

export interface StPrediction {
  num_labels: number;
  scores: number[] | number[][];
  ranking?: Array<{ corpus_id: number; score: number }>;
}

/** CrossEncoder.predict (default activation) of the save, and rank of pairs[0]'s query over every document. */
export function stPredict(save: string, pairs: Array<[string, string]>): StPrediction {
  const input = scratchJson('pairs', pairs);
  const out = `${input}.out`;
  try {
    python([chainScript, 'predict', '--model', save, '--pairs', input, '--out', out], 'st_chain_fixture.py predict');
    return JSON.parse(fs.readFileSync(out, 'utf8')) as StPrediction;
  } finally {
    fs.rmSync(input, { force: true });
    fs.rmSync(out, { force: true });
  }
}

export interface CausalReference {
  st: number[];
  lengths: number[];
  st_left_vs_right: number;
  max_seq_length: number;
  /** The path of the JSON holding the right-padded batches (for runExport). */
  file: string;
}

/** sentence-transformers' raw scores and its own token ids for the pairs (st_chain_fixture.py causal). */
export function causalReference(save: string, pairs: Array<[string, string]>, flags: string[] = []): CausalReference {
  const input = scratchJson('pairs', pairs);
  const out = `${input}.out`;
  try {
    python([chainScript, 'causal', '--model', save, '--pairs', input, '--out', out, ...flags], 'st_chain_fixture.py causal');
    return { ...(JSON.parse(fs.readFileSync(out, 'utf8')) as Omit<CausalReference, 'file'>), file: out };
  } finally {
    fs.rmSync(input, { force: true });
  }
}

/** The exported graph's scores on a reference's batches, run by `pythonBin` (default: .venv's). */
export function runExport(model: string, reference: CausalReference, pythonBin = projectPython('st6')!): { torch: string; scores: number[] } {
  const out = `${reference.file}.${path.basename(model)}.${path.basename(pythonBin)}.scores`;
  try {
    const r = spawnSync(pythonBin, [chainScript, 'run', '--export', model, '--batches', reference.file, '--out', out], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`st_chain_fixture.py run ${model} failed:\n${r.stderr.slice(-4000)}`);
    return JSON.parse(fs.readFileSync(out, 'utf8')) as { torch: string; scores: number[] };
  } finally {
    fs.rmSync(out, { force: true });
  }
}

export function maxAbsDiff(a: number[], b: number[]): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  return a.reduce((worst, x, i) => Math.max(worst, Math.abs(x - b[i]!)), 0);
}
