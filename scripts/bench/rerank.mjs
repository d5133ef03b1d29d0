#!/usr/bin/env node
// npm run bench:rerank: the bundled reranker (models/biomed-minilm-ce) on BioASQ candidate pools,
// BM25 alone against BM25 + the model, scored by sentence-transformers and by this package, which
// must agree. scripts/eval-reranker.py does the work (see its docstring for the pools and metrics);
// this finds the project's Python (.venv, made by scripts/setup.sh) and names the result file.
// Extra arguments go to eval-reranker.py (e.g. --n 400).
//
// npm run bench:rerank -- --long-documents: the long-document variant (docs/LONG-DOCUMENTS.md, issue 29's
// setup): held-out questions, each with 8 documents of 2-3 real unrelated abstracts and a snippet at the
// end (the question's gold snippet in one), ranked by the package with longDocuments 'truncate', and
// 'max' and 'mean' at windows of 64 to 384 tokens and the model's maxLength, with bootstrap 95% CIs over
// questions: the first 70 of 100 drawn with seed 29 (about an hour on two busy shared CPU cores;
// later arguments win, e.g. --first 100); figures to bench/results/rerank-long-DATE.json.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectPython } from '../torch-python.mjs';
import { root } from './common.mjs';

const python = projectPython('st6');
if (!python) {
  console.error('bench:rerank needs the project environment .venv: run bash scripts/setup.sh first.');
  process.exit(1);
}
const extra = process.argv.slice(2);
const long = extra.includes('--long-documents');
const date = new Date().toISOString().slice(0, 10);
const out = path.join(root, 'bench', 'results', long ? `rerank-long-${date}.json` : `rerank-eval-${date}.json`);
const run = spawnSync(python, [
  path.join(root, 'scripts', 'eval-reranker.py'),
  '--model', path.join(root, 'models', 'biomed-minilm-ce'), '--model-name', 'biomed-minilm-ce',
  ...(long ? ['--n', '100', '--first', '70', '--pool', '8', '--hard', '3', '--seed', '29'] : ['--package']),
  '--json', out, ...extra,
], { stdio: 'inherit' });
process.exit(run.status ?? 1);
