#!/usr/bin/env node
// npm run bench:rerank: the bundled reranker (models/biomed-minilm-ce) on BioASQ candidate pools,
// BM25 alone against BM25 + the model, scored by sentence-transformers and by this package, which
// must agree. scripts/eval-reranker.py does the work (see its docstring for the pools and metrics);
// this finds the project's Python (.venv, made by scripts/setup.sh) and names the result file.
// Extra arguments go to eval-reranker.py (e.g. --n 400).
//
// npm run bench:rerank -- --long-documents: the long-document variant (docs/LONG-DOCUMENTS.md):
// each candidate inside real unrelated abstracts, ranked by the package with longDocuments
// 'truncate' and 'max' at the model's maxLength (512) and 'truncate', 'max' and 'mean' at 128, on 16
// questions with pools of 8 (about ten minutes on two shared CPU cores); figures to bench/results/rerank-long-DATE.json.
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
  ...(long ? ['--n', '16', '--pool', '8', '--hard', '3', '--max-gold', '2'] : ['--package']),
  '--json', out, ...extra,
], { stdio: 'inherit' });
process.exit(run.status ?? 1);
