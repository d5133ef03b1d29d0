/**
 * sentence-transformers as the reference: real CrossEncoder saves built and exported by
 * test/helpers/st_fixture.py in a project environment (scripts/setup.sh), and the scores that
 * sentence-transformers itself gives for them.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './child';
import { sharedData, vocabFile } from './fixture-model';
import { projectPython } from '../../scripts/torch-python.mjs';

export type StEnvironment = 'st6' | 'st41';

const script = path.join(repoRoot, 'test', 'helpers', 'st_fixture.py');
const exportScript = path.join(repoRoot, 'scripts', 'export.py');
const modelsDir = path.join(repoRoot, 'test', 'fixtures', 'models');

/** Why parity tests on `env` cannot run here, or null. */
export function stSkipReason(env: StEnvironment): string | null {
  const python = projectPython(env);
  if (!python) return `no ${env === 'st6' ? '.venv' : '.venv-st41'} with sentence-transformers (run scripts/setup.sh)`;
  return null;
}

function configFile(): string {
  const committed = path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'biomedbert_config.json');
  return fs.existsSync(committed) ? committed : path.join(sharedData, 'biomedbert_config.json');
}

export interface StModelOptions {
  numLabels: number;
  activation?: 'default' | 'identity' | 'sigmoid' | 'tanh';
  legacyKey?: boolean;
}

/** Builds (once per checkout and script version) a save and its export; returns { st, tce }. */
export function stModel(env: StEnvironment, name: string, options: StModelOptions): { st: string; tce: string } {
  const python = projectPython(env);
  if (!python) throw new Error(stSkipReason(env) ?? 'no python');
  const dir = path.join(modelsDir, `${env}-${name}`);
  const stamp = path.join(dir, '.built-from');
  const want = JSON.stringify({ options, script: fs.statSync(script).mtimeMs, export: fs.statSync(exportScript).mtimeMs });
  if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want)) {
    const args = [script, 'build', '--out', dir, '--vocab', vocabFile('biomedbert'), '--config', configFile(),
      '--num-labels', String(options.numLabels), '--activation', options.activation ?? 'default'];
    if (options.legacyKey) args.push('--legacy-key');
    const result = spawnSync(python, args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`st_fixture.py build ${name} failed:\n${result.stderr.slice(-4000)}`);
    fs.writeFileSync(stamp, want);
  }
  return { st: path.join(dir, 'st'), tce: path.join(dir, 'tce') };
}

export type StRequest =
  | { model: string; kind: 'predict'; pairs: unknown; activation?: 'identity'; apply_softmax?: boolean; autocast?: 'bf16' }
  | { model: string; kind: 'rank'; query: string; documents: string[]; top_k?: number | null; return_documents?: boolean };

export interface StRanked {
  corpus_id: number;
  score: number;
  text?: string;
}

export interface StReference {
  versions: { sentence_transformers: string; transformers: string; torch: string };
  results: Array<{ scores?: unknown; ranking?: StRanked[]; error?: string }>;
}

/** Runs the requests through sentence_transformers.CrossEncoder in one Python process. */
export function stReference(env: StEnvironment, requests: StRequest[]): StReference {
  const python = projectPython(env);
  if (!python) throw new Error(stSkipReason(env) ?? 'no python');
  const file = path.join(modelsDir, `requests-${process.pid}-${Date.now()}.json`);
  const out = `${file}.out`;
  fs.mkdirSync(modelsDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(requests));
  try {
    const result = spawnSync(python, [script, 'reference', '--requests', file, '--out', out], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`st_fixture.py reference failed:\n${result.stderr.slice(-4000)}`);
    return JSON.parse(fs.readFileSync(out, 'utf8')) as StReference;
  } finally {
    fs.rmSync(file, { force: true });
    fs.rmSync(out, { force: true });
  }
}
