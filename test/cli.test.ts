// The torch-cross-encoder command as a user runs it (a child process of dist/cli.js): score
// streams JSONL in input order with the scores of a direct predict, names bad lines, keeps what
// it wrote when interrupted; rank; info; usage errors.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type Pair } from '../lib/cross-encoder';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';

const cli = path.join(repoRoot, 'dist', 'cli.js');
const reason = modelTestsSkipReason();
if (reason) console.warn(`cli tests skipped: ${reason}`);

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', timeout: 120_000 });
}

function jsonLines(text: string): any[] {
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

describe.skipIf(reason)('torch-cross-encoder command', () => {
  let modelDir: string;
  let expected: Float32Array;
  let rankScores: Float32Array;
  const pairs = bioasqPairs(30);
  const rankQuery = pairs[0][0];
  const rankDocuments = pairs.slice(0, 8).map(([, d]) => d);
  const dir = tempDir('cli');

  beforeAll(async () => {
    modelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const model = await CrossEncoder.load(modelDir, { device: 'cpu' });
    expected = (await model.predict(pairs)) as Float32Array;
    rankScores = (await model.predict(rankDocuments.map((d): Pair => [rankQuery, d]))) as Float32Array;
    await model.dispose();
  });

  test('score: a file of both line forms, in chunks, written in input order with direct-predict scores; silent when piped', () => {
    const input = path.join(dir, 'pairs.jsonl');
    fs.writeFileSync(input, pairs.map(([query, document], i) => JSON.stringify(i % 2 ? [query, document] : { query, document })).join('\n') + '\n\n');
    const out = path.join(dir, 'scores.jsonl');
    const r = run(['score', modelDir, input, '-o', out, '--chunk', '7', '--device', 'cpu']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const rows = jsonLines(fs.readFileSync(out, 'utf8'));
    expect(rows.map((row) => row.line)).toEqual(pairs.map((_, i) => i + 1));
    rows.forEach((row, i) => expect(Math.abs(row.score - expected[i])).toBeLessThanOrEqual(1e-5));
    // stdin to stdout
    const piped = run(['score', modelDir, '--device', 'cpu'], JSON.stringify(pairs[0]) + '\n');
    expect(piped.status).toBe(0);
    expect(jsonLines(piped.stdout)).toHaveLength(1);
  });

  test('score: a bad line stops it with its line number after writing the lines before; --skip-bad writes an error row', () => {
    const lines = pairs.slice(0, 5).map((p) => JSON.stringify(p));
    lines.splice(3, 0, '{"query": "only a query"}');
    const input = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(input, lines.join('\n'));
    const stopped = run(['score', modelDir, input, '--chunk', '2', '--device', 'cpu']);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toContain('line 4: expected {"query": string, "document": string} or [string, string]');
    expect(jsonLines(stopped.stdout).map((row) => row.line)).toEqual([1, 2, 3]);
    const skipped = run(['score', modelDir, input, '--skip-bad', '--device', 'cpu']);
    expect(skipped.status).toBe(0);
    const rows = jsonLines(skipped.stdout);
    expect(rows.map((row) => row.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows[3]).toEqual({ line: 4, error: expect.stringContaining('expected') });
    expect(Math.abs(rows[4].score - expected[3])).toBeLessThanOrEqual(1e-5);
  });

  test('score: SIGINT stops it cleanly, even while it waits for input; what was written is a complete, in-order prefix', async () => {
    const out = path.join(dir, 'interrupted.jsonl');
    const child = spawn(process.execPath, [cli, 'score', modelDir, '-o', out, '--chunk', '16', '--device', 'cpu'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    let exited = false;
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => {
      exited = true;
      resolve(code);
    }));
    // 200 pairs on a stdin that stays open: the command can only end by the signal.
    child.stdin.write(Array.from({ length: 200 }, (_, i) => JSON.stringify(pairs[i % pairs.length])).join('\n') + '\n');
    const rowsWritten = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').length - 1 : 0);
    while (!exited && rowsWritten() < 32) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(exited).toBe(false);
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    child.stdin.destroy();
    expect(stderr).toMatch(/stopped; \d+ pairs scored and written/);
    const text = fs.readFileSync(out, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const rows = jsonLines(text);
    expect(rows.length).toBeGreaterThanOrEqual(32);
    expect(rows.map((row) => row.line)).toEqual(rows.map((_, i) => i + 1));
    expect(Number(/stopped; (\d+)/.exec(stderr)![1])).toBe(rows.length);
  });

  test('score: a reader that goes away (| head) ends it quietly; a missing input file is named before anything loads', () => {
    const many = path.join(dir, 'head.jsonl');
    fs.writeFileSync(many, Array.from({ length: 3000 }, (_, i) => JSON.stringify(pairs[i % pairs.length])).join('\n'));
    const head = spawnSync('sh', ['-c', `"${process.execPath}" "${cli}" score "${modelDir}" "${many}" --device cpu --chunk 8 | head -n 2`], { encoding: 'utf8', timeout: 120_000 });
    expect(jsonLines(head.stdout)).toHaveLength(2);
    expect(head.stderr).not.toMatch(/Unhandled|EPIPE|at /);
    const missing = run(['score', modelDir, path.join(dir, 'nope.jsonl'), '-o', path.join(dir, 'never.jsonl')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('nope.jsonl is not a file');
    expect(fs.existsSync(path.join(dir, 'never.jsonl'))).toBe(false);
  });

  test('rank: best first, --top-k, --return-documents; documents as strings or {"text"}', () => {
    const query = rankQuery;
    const documents = rankDocuments;
    const file = path.join(dir, 'docs.jsonl');
    fs.writeFileSync(file, documents.map((d, i) => JSON.stringify(i % 2 ? d : { text: d })).join('\n'));
    const r = run(['rank', modelDir, '--query', query, file, '--top-k', '3', '--return-documents', '--device', 'cpu']);
    expect(r.status).toBe(0);
    const ranked = jsonLines(r.stdout);
    expect(ranked).toHaveLength(3);
    const best = Array.from(rankScores, (s, i) => [s, i]).sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, i]) => i);
    expect(ranked.map((x) => x.corpusId)).toEqual(best);
    for (const x of ranked) expect(x.text).toBe(documents[x.corpusId]);
  });

  test('info --json, and usage errors that name the problem', () => {
    const info = run(['info', '--json']);
    expect(info.status).toBe(0);
    expect(JSON.parse(info.stdout).core.path).toMatch(/libtce_torch\.so$/);
    const unknown = run(['score', modelDir, '--batchsize', '3']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--batchsize'");
    const missing = run(['rank', modelDir]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('missing DOCS.jsonl');
    expect(run(['frobnicate']).stderr).toContain('unknown command "frobnicate"');
    const zero = run(['score', modelDir, '--chunk', '0']);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain('--chunk must be at least 1');
  });
});
