/**
 * sentence-transformers 6.3 as the reference for causal-LM rerankers: saves built by
 * test/helpers/causal_fixture.py in the project's .venv, the token ids its Transformer module
 * gives each pair, and its CrossEncoder scores.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { repoRoot } from './child';
import { projectPython } from '../../scripts/torch-python.mjs';

const script = path.join(repoRoot, 'test', 'helpers', 'causal_fixture.py');
const modelsDir = path.join(repoRoot, 'test', 'fixtures', 'models');

/** Why these tests cannot run here (no .venv, or a sentence-transformers without LogitScore), or null. */
export function causalSkipReason(): string | null {
  const python = projectPython('st6');
  if (!python) return 'no .venv with sentence-transformers (run scripts/setup.sh)';
  const probe = spawnSync(python, ['-c', 'import sentence_transformers.cross_encoder.modules.logit_score'], { encoding: 'utf8' });
  if (probe.status !== 0) return ".venv's sentence-transformers has no LogitScore (causal-LM rerankers need sentence-transformers 6.3)";
  return null;
}

function python(args: string[]): string {
  const exe = projectPython('st6');
  if (!exe) throw new Error(causalSkipReason() ?? 'no python');
  const result = spawnSync(exe, [script, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`causal_fixture.py ${args[0]} failed:\n${result.stderr.slice(-4000)}`);
  return result.stdout;
}

export interface CausalOptions {
  family: 'qwen3' | 'qwen2' | 'llama';
  prompt?: boolean;
  trueOnly?: boolean;
  maxSeqLength?: number;
}

/** Builds (once per checkout and script version) a save and its echo copy; returns { st, echo }. */
export function causalModel(name: string, options: CausalOptions): { st: string; echo: string } {
  const dir = path.join(modelsDir, `causal-${name}`);
  const stamp = path.join(dir, '.built-from');
  const want = JSON.stringify({ options, script: fs.statSync(script).mtimeMs });
  const st = path.join(dir, 'st');
  const echo = path.join(dir, 'echo');
  if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want)) {
    const args = ['build', '--out', dir, '--family', options.family];
    if (options.prompt) args.push('--prompt');
    if (options.trueOnly) args.push('--true-only');
    if (options.maxSeqLength) args.push('--max-seq-length', String(options.maxSeqLength));
    python(args);
    python(['echo', '--st', st, '--out', echo]);
    fs.writeFileSync(stamp, want);
  }
  return { st, echo };
}

/** A copy of an echo model whose metadata claims `paddingSide` (the engine pads on the right). */
export function echoWithPaddingSide(st: string, out: string, paddingSide: string): string {
  python(['echo', '--st', st, '--out', out, '--padding-side', paddingSide]);
  return out;
}

export interface TokenizeRequest {
  model: string;
  pairs: Array<[string, string]>;
  prompt?: string | null;
  prompt_name?: string | null;
}

export type ReferenceRequest =
  | { model: string; kind: 'predict'; pairs: Array<[string, string]>; prompt?: string | null; prompt_name?: string | null; activation?: 'identity' }
  | { model: string; kind: 'rank'; query: string; documents: string[]; prompt?: string | null; prompt_name?: string | null };

function runRequests<T>(command: 'tokenize' | 'reference', requests: unknown[]): T[] {
  fs.mkdirSync(modelsDir, { recursive: true });
  const file = path.join(modelsDir, `causal-${command}-${process.pid}-${Date.now()}.json`);
  const out = `${file}.out`;
  fs.writeFileSync(file, JSON.stringify(requests));
  try {
    python([command, '--requests', file, '--out', out]);
    return (JSON.parse(fs.readFileSync(out, 'utf8')) as { results: T[] }).results;
  } finally {
    fs.rmSync(file, { force: true });
    fs.rmSync(out, { force: true });
  }
}

/** The ids sentence-transformers feeds the model for each pair of each request (padding removed). */
export function stTokenIds(requests: TokenizeRequest[]): number[][][] {
  return runRequests<{ ids: number[][] }>('tokenize', requests).map((r) => r.ids);
}

export function stCausalReference(requests: ReferenceRequest[]): Array<{ scores?: number[]; ranked?: Array<{ corpus_id: number; score: number }> }> {
  return runRequests('reference', requests);
}

const exportScript = path.join(repoRoot, 'scripts', 'export.py');

/** Newest modification time under scripts/export* (the exporter and its package). */
function exporterStamp(): number {
  const dir = path.join(repoRoot, 'scripts', 'export');
  const files = [exportScript, ...(fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [])];
  return Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
}

/**
 * The save exported by scripts/export.py (TorchScript) into its fixture folder's tce/ (cached);
 * with `targetLibtorch` '1.13', traced for libtorch 1.13 (eager attention) into tce-1.13/.
 */
export function exportedModel(st: string, targetLibtorch?: '1.13'): string {
  const out = path.join(path.dirname(st), targetLibtorch ? `tce-${targetLibtorch}` : 'tce');
  const stamp = path.join(out, '.built-from');
  const want = JSON.stringify({ st: fs.statSync(path.join(st, 'model.safetensors')).mtimeMs, exporter: exporterStamp() });
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return out;
  const exe = projectPython('st6');
  if (!exe) throw new Error(causalSkipReason() ?? 'no python');
  fs.rmSync(out, { recursive: true, force: true });
  const result = spawnSync(exe, [exportScript, st, out, ...(targetLibtorch ? ['--target-libtorch', targetLibtorch] : [])], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`export.py ${st} failed:\n${result.stderr.slice(-4000)}`);
  fs.writeFileSync(stamp, want);
  return out;
}

/** What the echo model scores a row of ids: sum_j id[j] * (j + 1). */
export function echoScore(ids: readonly number[]): number {
  return ids.reduce((sum, id, j) => sum + id * (j + 1), 0);
}

/**
 * The same rank order as sentence-transformers, except that documents whose scores are within
 * `bound` (ties: rows truncated to the same tokens score the same) may come in another order:
 * sentence-transformers orders ties by its length-sorted batches, we keep input order.
 */
export function expectSameRanking(
  ours: ReadonlyArray<{ corpusId: number; score: number }>,
  theirs: ReadonlyArray<{ corpus_id: number; score: number }>,
  bound: number,
): void {
  expect(ours.length).toBe(theirs.length);
  for (let i = 0; i < theirs.length; i++) {
    expect(Math.abs(ours[i]!.score - theirs[i]!.score), `rank ${i}`).toBeLessThanOrEqual(bound);
    if (ours[i]!.corpusId !== theirs[i]!.corpus_id) {
      const theirScoreOfOurs = theirs.find((t) => t.corpus_id === ours[i]!.corpusId)!.score;
      expect(Math.abs(theirScoreOfOurs - theirs[i]!.score), `rank ${i}: a different document, not a tie`).toBeLessThanOrEqual(bound);
    }
  }
}
