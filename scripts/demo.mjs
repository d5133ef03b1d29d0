#!/usr/bin/env node
// The README's main job: rank real pairs with a cross-encoder and print readable tables.
//
//   npm run demo                 the ready-made biomedical reranker (models/biomed-minilm-ce, the
//                                npm workspace @torch-cross-encoder/biomed-minilm-ce: no download)
//   npm run demo -- MODEL_DIR    a model directory made by scripts/export.py
//   options: --device auto|cpu|cuda[:N]  --pairs N (BioASQ pairs to score, default 200)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { CrossEncoder, runtimeInfo } = require(path.join(root, 'dist', 'index.js'));

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [value] = args.splice(i, 2).slice(1);
  return value;
};
const device = option('--device', 'auto');
const pairCount = Number(option('--pairs', '200'));
const modelDir = args[0]; // undefined: the bundled model

function bioasqPairs(limit) {
  const full = path.resolve(root, '..', 'shared', 'data', 'bioasq_pairs.jsonl');
  const sample = path.join(root, 'test', 'fixtures', 'tokenizer', 'bioasq_pairs_sample.jsonl');
  const file = fs.existsSync(full) ? full : sample;
  const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { file, rows: rows.slice(0, limit) };
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text).replace(/\s+/g, ' ');

const info = runtimeInfo();
const model = await CrossEncoder.load(modelDir, { device });
console.log(`model: ${path.relative(process.cwd(), model.modelDir) || model.modelDir}${modelDir ? '' : '  (the ready-made model; see its README.md)'}`);
console.log(`libtorch ${info.libtorch.version} (${info.libtorch.source}), device ${model.device}, precision ${model.precision}, maxLength ${model.maxLength}\n`);

const seed = JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'demo', 'seed.json'), 'utf8'));
const ranked = await model.rank(seed.query, seed.documents.map((d) => d.text));
console.log(`Query: ${seed.query}`);
console.log('rank  score    pmid      title');
ranked.forEach((r, i) => {
  const doc = seed.documents[r.corpusId];
  console.log(`${String(i + 1).padStart(4)}  ${r.score.toFixed(4)}  ${doc.pmid.padEnd(8)}  ${clip(doc.title, 70)}`);
});

const { file, rows } = bioasqPairs(pairCount);
const started = performance.now();
const scores = await model.predict(rows.map((r) => [r.query, r.document]), {
  onProgress: process.stderr.isTTY ? (done, total) => process.stderr.write(`\rscoring BioASQ pairs: ${done}/${total}`) : undefined,
});
const seconds = (performance.now() - started) / 1000;
if (process.stderr.isTTY) process.stderr.write('\n');
const positives = rows.map((r, i) => [r.label, scores[i]]).filter(([label]) => label === 1).map(([, s]) => s);
const negatives = rows.map((r, i) => [r.label, scores[i]]).filter(([label]) => label === 0).map(([, s]) => s);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
let wins = 0;
for (const p of positives) for (const n of negatives) wins += p > n ? 1 : p === n ? 0.5 : 0;
console.log(`\nBioASQ pairs (${path.relative(root, file)}): ${rows.length} scored in ${seconds.toFixed(2)} s (${(rows.length / seconds).toFixed(1)} pairs/s)`);
console.log(`mean score: gold snippets ${mean(positives).toFixed(4)}, other questions' snippets ${mean(negatives).toFixed(4)}; ` +
  `AUC ${(wins / Math.max(1, positives.length * negatives.length)).toFixed(3)}`);
console.log('\nscore   label  query / document');
rows.slice(0, 6).forEach((r, i) => {
  console.log(`${scores[i].toFixed(4)}  ${String(r.label).padStart(5)}  ${clip(r.query, 60)}\n               ${clip(r.document, 90)}`);
});
await model.dispose();
