// The CLI's long-document flags as a user runs them (child processes of dist/cli.js):
// `rank --long-documents max --return-passage`, `score --long-documents mean --stride N` and
// `--window-tokens N` give
// the library's own scores and passages for the same options (docs/LONG-DOCUMENTS.md is tested
// against sentence-transformers in test/long-documents.models.test.ts; this checks the plumbing),
// and values the library refuses are usage errors (exit 2) that name the flag.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type Pair, type RankResult } from '../lib/cross-encoder';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';

const cli = path.join(repoRoot, 'dist', 'cli.js');
const reason = modelTestsSkipReason();
if (reason) console.warn(`cli long-document tests skipped: ${reason}`);

/** The same pairs scored in another process, in other batches (other padding). */
const TOLERANCE = 1e-6;
/** Small enough that PubMed abstracts take several windows beside a BioASQ question. */
const MAX_LENGTH = 64;

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', timeout: 120_000 });
}

function jsonLines(text: string): any[] {
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

describe.skipIf(reason)('torch-cross-encoder: --long-documents, --stride, --return-passage', () => {
  let modelDir: string;
  const dir = tempDir('cli-long');
  const abstracts = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'pubmed_sample.jsonl'), 'utf8')
    .split('\n').filter(Boolean).slice(0, 6).map((line) => (JSON.parse(line) as { text: string }).text);
  const short = bioasqPairs(2);
  const query = short[0][0];
  // Long abstracts and two short snippets (one window: the whole document).
  const documents = [...abstracts.slice(0, 3), short[0][1], ...abstracts.slice(3), short[1][1]];
  const docsFile = path.join(dir, 'docs.jsonl');
  let expectedRank: RankResult[];
  let truncateScores: Float32Array;
  let meanScores: Float32Array;
  let smallWindowScores: Float32Array;
  /** A window smaller than what fits beside the query in MAX_LENGTH. */
  const WINDOW = 20;

  beforeAll(async () => {
    modelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    fs.writeFileSync(docsFile, documents.map((text, i) => JSON.stringify(i % 2 ? { text } : text)).join('\n') + '\n');
    const model = await CrossEncoder.load(modelDir, { device: 'cpu', maxLength: MAX_LENGTH });
    try {
      expectedRank = await model.rank(query, documents, { longDocuments: 'max', returnPassage: true });
      const pairs = documents.map((d): Pair => [query, d]);
      truncateScores = (await model.predict(pairs)) as Float32Array;
      meanScores = (await model.predict(pairs, { longDocuments: 'mean', stride: 8 })) as Float32Array;
      smallWindowScores = (await model.predict(pairs, { longDocuments: 'max', windowTokens: WINDOW })) as Float32Array;
    } finally {
      await model.dispose();
    }
  });

  test('the documents are long enough to need windows (the test can tell the modes apart)', () => {
    const passagesShorter = expectedRank.filter((r) => r.passage!.end - r.passage!.start < documents[r.corpusId]!.length);
    expect(passagesShorter.length).toBeGreaterThanOrEqual(abstracts.length);
    const differing = Array.from(meanScores).filter((s, i) => Math.abs(s - truncateScores[i]!) > 1e-4);
    expect(differing.length).toBeGreaterThanOrEqual(abstracts.length);
  });

  test('rank --long-documents max --return-passage: the library\'s order, scores and passages', () => {
    const r = run(['rank', modelDir, docsFile, '-q', query, '--long-documents', 'max', '--return-passage', '--max-length', String(MAX_LENGTH), '--device', 'cpu']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rows = jsonLines(r.stdout);
    expect(rows.map((row) => row.corpusId)).toEqual(expectedRank.map((e) => e.corpusId));
    rows.forEach((row, i) => {
      expect(Math.abs(row.score - expectedRank[i]!.score)).toBeLessThanOrEqual(TOLERANCE);
      expect(row.passage).toEqual(expectedRank[i]!.passage);
      // The passage is the document's own text at its span.
      expect(row.passage.text).toBe(documents[row.corpusId]!.slice(row.passage.start, row.passage.end));
    });
    // Without --return-passage no passage is written.
    const plain = run(['rank', modelDir, docsFile, '-q', query, '--long-documents', 'max', '--max-length', String(MAX_LENGTH), '--device', 'cpu', '--top-k', '2']);
    expect(plain.status).toBe(0);
    expect(jsonLines(plain.stdout).map((row) => Object.keys(row).sort())).toEqual([['corpusId', 'score'], ['corpusId', 'score']]);
  });

  test('score --long-documents mean --stride 8: the library\'s scores for the same options', () => {
    const input = path.join(dir, 'pairs.jsonl');
    fs.writeFileSync(input, documents.map((d) => JSON.stringify({ query, document: d })).join('\n') + '\n');
    const r = run(['score', modelDir, input, '--long-documents', 'mean', '--stride', '8', '--chunk', '3', '--max-length', String(MAX_LENGTH), '--device', 'cpu']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rows = jsonLines(r.stdout);
    expect(rows.map((row) => row.line)).toEqual(documents.map((_, i) => i + 1));
    rows.forEach((row, i) => expect(Math.abs(row.score - meanScores[i]!)).toBeLessThanOrEqual(TOLERANCE));
  });

  test('score --long-documents max --window-tokens: the library\'s scores for that window, not the default window\'s', async () => {
    const input = path.join(dir, 'pairs-window.jsonl');
    fs.writeFileSync(input, documents.map((d) => JSON.stringify([query, d])).join('\n') + '\n');
    const r = run(['score', modelDir, input, '--long-documents', 'max', '--window-tokens', String(WINDOW), '--max-length', String(MAX_LENGTH), '--device', 'cpu']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rows = jsonLines(r.stdout);
    rows.forEach((row, i) => expect(Math.abs(row.score - smallWindowScores[i]!)).toBeLessThanOrEqual(TOLERANCE));
    const byDefault = run(['score', modelDir, input, '--long-documents', 'max', '--max-length', String(MAX_LENGTH), '--device', 'cpu']);
    const differing = jsonLines(byDefault.stdout).filter((row, i) => Math.abs(row.score - rows[i]!.score) > 1e-4);
    expect(differing.length).toBeGreaterThanOrEqual(abstracts.length / 2);
  });

  test('score: a pair the library refuses is named by its input line, not its index in a chunk', () => {
    // Lines 1-3 fit in one window (never checked against the stride); line 4 is a long abstract,
    // the first pair of the second chunk.
    const input = path.join(dir, 'refused.jsonl');
    const lines = [short[0][1], short[1][1], short[0][1], abstracts[0]!].map((d) => JSON.stringify([query, d]));
    fs.writeFileSync(input, lines.join('\n') + '\n');
    const r = run(['score', modelDir, input, '--long-documents', 'max', '--stride', '1000', '--chunk', '3', '--max-length', String(MAX_LENGTH), '--device', 'cpu']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--stride 1000 must be smaller than the window of line 4: --max-length 64 - ');
    expect(r.stderr).not.toContain('pairs[');
  });

  test('values the library refuses are usage errors (2) that name the flag', () => {
    const common = ['--max-length', String(MAX_LENGTH), '--device', 'cpu'];
    const cases: Array<{ args: string[]; says: string[] }> = [
      { args: ['rank', modelDir, docsFile, '-q', query, '--long-documents', 'longest'], says: ["--long-documents must be one of 'truncate', 'max', 'mean', 'first'", 'rank --help'] },
      { args: ['score', modelDir, docsFile, '--long-documents', 'MAX'], says: ["--long-documents must be one of 'truncate', 'max', 'mean', 'first'"] },
      { args: ['rank', modelDir, docsFile, '-q', query, '--stride', 'eight'], says: ['--stride must be a whole number, got "eight"'] },
      { args: ['rank', modelDir, docsFile, '-q', query, '--stride', '8', ...common], says: ['--stride applies to --long-documents'] },
      { args: ['rank', modelDir, docsFile, '-q', query, '--return-passage', ...common], says: ["--return-passage needs --long-documents 'max', 'mean' or 'first'"] },
      { args: ['rank', modelDir, docsFile, '-q', query, '--long-documents', 'max', '--stride=-1', ...common], says: ['--stride must be an integer from 0'] },
      { args: ['rank', modelDir, docsFile, '-q', query, '--long-documents', 'first', '--stride', '1000', ...common], says: ['--stride 1000 must be smaller than the window of documents[0]: --max-length 64 - '] },
      { args: ['rank', modelDir, docsFile, '-q', query, '--window-tokens', '32', ...common], says: ['--window-tokens applies to --long-documents'] },
      { args: ['rank', modelDir, docsFile, '-q', query, '--long-documents', 'max', '--window-tokens', '0', ...common], says: ['--window-tokens must be an integer from 1'] },
      { args: ['rank', modelDir, docsFile, '-q', query, '--long-documents', 'max', '--window-tokens', '16', '--stride', '16', ...common], says: ['--stride 16 must be smaller than the window of documents[0]: --window-tokens 16.'] },
    ];
    for (const { args, says } of cases) {
      const r = run(args);
      expect({ args, status: r.status, stdout: r.stdout }).toEqual({ args, status: 2, stdout: '' });
      for (const text of says) expect({ args, stderr: r.stderr }).toEqual({ args, stderr: expect.stringContaining(text) });
      // The library's own option names never reach the user.
      expect({ args, stderr: r.stderr }).toEqual({ args, stderr: expect.not.stringMatching(/longDocuments|returnPassage|maxLength|windowTokens/) });
    }
  });
});
