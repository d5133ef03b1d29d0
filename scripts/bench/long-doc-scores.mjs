#!/usr/bin/env node
// Scores the long-document pools of scripts/eval-reranker.py --long-documents with this package's
// library (built dist/), once per maxLength and longDocuments mode, on the CPU:
//
//   node scripts/bench/long-doc-scores.mjs MODEL_DIR POOLS.jsonl OUT.json RUNS
//
// RUNS: maxLength:mode+mode,... e.g. 512:truncate+max,128:truncate+max+mean.
// POOLS.jsonl: one {query, documents: [...]} a line (one question's pool). Each question's pool
// goes through rank() with that mode (the windows of all its documents share batches); the
// questions run one after the other, as a reranking service would see them. Writes
// {"<maxLength>": {"<mode>": {scores: [[...] a pool], windows, seconds}}}; `windows` counts the
// pairs scored, read from the engine's counters.
import fs from 'node:fs';
import { CrossEncoder } from '../../dist/index.js';

const [modelDir, poolsFile, outFile, runs] = process.argv.slice(2);
if (!runs) {
  console.error('usage: long-doc-scores.mjs MODEL_DIR POOLS.jsonl OUT.json maxLength:mode+mode,...');
  process.exit(2);
}
const pools = fs.readFileSync(poolsFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
const out = {};
for (const run of runs.split(',')) {
  const [maxLength, modes] = [Number(run.split(':')[0]), run.split(':')[1]];
  const model = await CrossEncoder.load(modelDir, { device: 'cpu', maxLength, cpuThreads: 2 });
  out[maxLength] = {};
  for (const mode of modes.split('+')) {
    const before = model.stats().pairs;
    const started = process.hrtime.bigint();
    const scores = [];
    for (const { query, documents } of pools) {
      const ranked = await model.rank(query, documents, { longDocuments: mode });
      const row = new Array(documents.length);
      for (const r of ranked) row[r.corpusId] = r.score;
      scores.push(row);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const windows = model.stats().pairs - before;
    out[maxLength][mode] = { scores, windows, seconds: Math.round(seconds * 10) / 10 };
    console.error(`[long-doc-scores] maxLength ${maxLength} ${mode}: ${windows} pairs scored in ${seconds.toFixed(1)} s`);
  }
  await model.dispose();
}
fs.writeFileSync(outFile, JSON.stringify(out));
