#!/usr/bin/env node
// npm run bench:rerank: the bundled reranker (models/biomed-minilm-ce) on BioASQ candidate pools,
// BM25 alone against BM25 + the model, scored by sentence-transformers and by this package, which
// must agree. scripts/eval-reranker.py does the work (see its docstring for the pools and metrics);
// this finds the project's Python (.venv, made by scripts/setup.sh) and names the result file.
// Extra arguments go to eval-reranker.py (e.g. --n 400).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectPython } from '../torch-python.mjs';
import { root } from './common.mjs';

const python = projectPython('st6');
if (!python) {
  console.error('bench:rerank needs the project environment .venv: run bash scripts/setup.sh first.');
  process.exit(1);
}
const out = path.join(root, 'bench', 'results', `rerank-eval-${new Date().toISOString().slice(0, 10)}.json`);
const run = spawnSync(python, [
  path.join(root, 'scripts', 'eval-reranker.py'),
  '--model', path.join(root, 'models', 'biomed-minilm-ce'), '--model-name', 'biomed-minilm-ce',
  '--package', '--json', out, ...process.argv.slice(2),
], { stdio: 'inherit' });
process.exit(run.status ?? 1);
