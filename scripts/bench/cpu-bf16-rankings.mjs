#!/usr/bin/env node
// What bf16 costs in ranking quality: the bundled reranker (models/biomed-minilm-ce) on the CPU in
// fp32 and in each bf16 precision, on the BioASQ candidate pools of scripts/eval-reranker.py
// (held-out questions; its --pairs file holds every pool's pairs with their labels). Each pool is
// ranked by the model's score alone; reported: nDCG@10 (binary gains) and MRR@10 over the
// questions, their change from fp32, the questions whose nDCG@10 changed, and the largest score
// difference from fp32.
//
//   .venv/bin/python scripts/eval-reranker.py --model models/biomed-minilm-ce --pairs PAIRS.jsonl
//   node scripts/bench/cpu-bf16-rankings.mjs PAIRS.jsonl [--precisions fp32,bf16]
// Writes bench/results/cpu-bf16-rankings-<date>.json.
import fs from 'node:fs';
import path from 'node:path';
import { arg, require, root, writeResult } from './common.mjs';

const { CrossEncoder, runtimeInfo } = require(path.join(root, 'dist', 'index.js'));
const file = process.argv[2];
if (!file || !fs.existsSync(file)) {
  console.error('usage: node scripts/bench/cpu-bf16-rankings.mjs PAIRS.jsonl (from scripts/eval-reranker.py --pairs)');
  process.exit(2);
}
const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const precisions = arg('precisions', 'fp32,bf16').split(',');

/** nDCG@10 and MRR@10 of one pool ranked by `scores` (binary gains; ties keep pool order). */
function poolMetrics(labels, scores) {
  const order = labels.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let dcg = 0;
  let mrr = 0;
  order.slice(0, 10).forEach((i, rank) => {
    if (labels[i] > 0) {
      dcg += 1 / Math.log2(rank + 2);
      if (mrr === 0) mrr = 1 / (rank + 1);
    }
  });
  const gold = labels.filter((l) => l > 0).length;
  let ideal = 0;
  for (let rank = 0; rank < Math.min(gold, 10); rank++) ideal += 1 / Math.log2(rank + 2);
  return { ndcg: ideal > 0 ? dcg / ideal : 0, mrr };
}

const pools = new Map();
rows.forEach((row, i) => {
  if (!pools.has(row.qid)) pools.set(row.qid, []);
  pools.get(row.qid).push(i);
});

const results = {};
const scoresOf = {};
for (const precision of precisions) {
  const model = await CrossEncoder.load(path.join(root, 'models', 'biomed-minilm-ce'), { device: 'cpu', precision });
  const started = performance.now();
  const scores = await model.predict(rows.map((r) => [r.query, r.document]));
  const seconds = (performance.now() - started) / 1000;
  await model.dispose();
  scoresOf[precision] = scores;
  const perQuestion = [...pools.values()].map((idx) => poolMetrics(idx.map((i) => rows[i].label), idx.map((i) => scores[i])));
  results[precision] = {
    'ndcg@10': Number((perQuestion.reduce((s, m) => s + m.ndcg, 0) / perQuestion.length).toFixed(4)),
    'mrr@10': Number((perQuestion.reduce((s, m) => s + m.mrr, 0) / perQuestion.length).toFixed(4)),
    perQuestionNdcg: perQuestion.map((m) => m.ndcg),
    seconds: Number(seconds.toFixed(1)),
  };
  console.error(`${precision}: nDCG@10 ${results[precision]['ndcg@10']}, MRR@10 ${results[precision]['mrr@10']}, ${seconds.toFixed(1)} s`);
}
const reference = results.fp32;
for (const precision of precisions) {
  const r = results[precision];
  if (reference && precision !== 'fp32') {
    r.ndcgChangeVsFp32 = Number((r['ndcg@10'] - reference['ndcg@10']).toFixed(4));
    r.mrrChangeVsFp32 = Number((r['mrr@10'] - reference['mrr@10']).toFixed(4));
    r.questionsNdcgChanged = r.perQuestionNdcg.filter((n, q) => Math.abs(n - reference.perQuestionNdcg[q]) > 1e-9).length;
    r.maxAbsScoreDiffVsFp32 = Number(Math.max(...scoresOf[precision].map((s, i) => Math.abs(s - scoresOf.fp32[i]))).toFixed(4));
  }
}
for (const r of Object.values(results)) delete r.perQuestionNdcg;
const info = runtimeInfo();
writeResult('cpu-bf16-rankings', {
  model: 'biomed-minilm-ce (bundled)',
  data: `${path.basename(file)}: scripts/eval-reranker.py pools (BioASQ held-out questions)`,
  questions: pools.size,
  pairs: rows.length,
  libtorch: `${info.libtorch.version} (${info.libtorch.source})`,
  cpu: info.cpu,
  precisions: results,
});
