#!/usr/bin/env node
// Scores the long-document pools of scripts/eval-reranker.py --long-documents with this package's
// library (built dist/), on the CPU:
//
//   node scripts/bench/long-doc-scores.mjs MODEL_DIR POOLS.jsonl OUT.json WINDOWS MODES [--check N]
//
// WINDOWS: window sizes in document tokens, e.g. 64,96,128,full ("full": as many as fit beside the
// query in the model's maxLength). MODES: longDocuments aggregations, e.g. max+mean.
// POOLS.jsonl: one {qid, query, documents: [...], snippets: [...]} a line (one question's pool).
// Besides every (window, mode), two reference rows: "snippet" (each document replaced by its
// snippet alone) and "truncate" (longDocuments 'truncate' at the model's maxLength).
//
// 'max' and 'mean' of one window size aggregate the same windows, so each window size is scored
// once, the way rank() does it (the package's own planWindows, one predict() of every window of
// the question's pool, which fit whole, then the package's aggregate() per mode), instead of
// scoring every window twice: half the CPU time, so twice the questions. The first N questions
// (--check, default 2) are also ranked through the public rank() with each longDocuments mode at
// the smallest and the full window, and the largest score difference is written out, so the
// shortcut is checked against the real call on every run.
//
// Window sizes: a package whose planner takes `windowTokens` (issue 29) gets it; an older one is
// given maxLength = window + the query's tokens + the pair's special tokens, which leaves exactly
// `window` tokens for the document (the same window and default stride, a quarter of it); its
// public-rank check loads the model with that maxLength.
//
// Questions run one after the other, every setting for one question before the next, and OUT is
// rewritten after each, so a run cut short still leaves the questions it finished:
// {api, maxLength, specials, queryTokens, done, check, settings: {"<name>": {scores: [[...] a question],
// windows: [pairs scored a question], seconds}}}; pairs scored are the engine's counter (stats().pairs).
import fs from 'node:fs';
import { CrossEncoder } from '../../dist/index.js';

const [modelDir, poolsFile, outFile, windowList, modeList, ...flags] = process.argv.slice(2);
if (!modeList) {
  console.error('usage: long-doc-scores.mjs MODEL_DIR POOLS.jsonl OUT.json WINDOWS MODES [--check N]\n' +
    '  e.g. long-doc-scores.mjs models/biomed-minilm-ce pools.jsonl out.json 64,128,full max+mean');
  process.exit(2);
}
const pools = fs.readFileSync(poolsFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
const windows = windowList.split(',').map((w) => (w === 'full' ? 'full' : Number(w)));
if (windows.some((w) => w !== 'full' && !(Number.isInteger(w) && w > 0))) {
  console.error(`long-doc-scores.mjs: WINDOWS must be positive integers or "full", got ${windowList}`);
  process.exit(2);
}
const modes = modeList.split('+');
const checkAt = flags.indexOf('--check');
const checkCount = checkAt >= 0 ? Number(flags[checkAt + 1]) : 2;

// The planner and aggregation rank() uses: lib/long-documents/ (issue 29) or lib/long-documents.ts before it.
const longDocs = await import('../../dist/long-documents/index.js').catch(() => import('../../dist/long-documents.js'));
const native = 'DEFAULT_WINDOW_TOKENS' in longDocs;
// aggregate() is the folder's own module since lib/long-documents/ became one layer (its index exports what the package uses).
const { aggregate } = native ? await import('../../dist/long-documents/aggregate.js') : longDocs;

const loadOptions = { device: 'cpu', cpuThreads: 2 };
const model = await CrossEncoder.load(modelDir, loadOptions);
const fullLength = model.maxLength;
const specials = model.tokenizer.encode('', '').ids.length;
const queryTokens = (await model.tokenizer.encodeBatch(pools.map((p) => p.query), { addSpecialTokens: false })).map((e) => e.ids.length);
console.error(`[long-doc-scores] ${pools.length} questions; window sizes through ${native ? 'windowTokens' : 'maxLength (older package)'}`);

/** The planner's settings for window size `w` and question `i`. */
function windowSettings(w, i, mode) {
  if (native) return { maxLength: fullLength, windowTokens: w === 'full' ? fullLength : w, stride: undefined, mode };
  const maxLength = w === 'full' ? fullLength : w + queryTokens[i] + specials;
  if (maxLength > fullLength) throw new Error(`window ${w} does not fit beside question ${pools[i].qid} in maxLength ${fullLength}`);
  return { maxLength, stride: undefined, firstOnly: false, mode };
}

/** Scores of question i's documents for every mode at window size w, as rank() computes them. */
async function windowed(w, i) {
  const { query, documents } = pools[i];
  const items = documents.map((d) => [query, d]);
  const planned = await longDocs.planWindows(model.tokenizer, items, windowSettings(w, i, modes[0]), (k) => `documents[${k}]`);
  const spans = Array.isArray(planned) ? planned : planned.windows;
  const from = [0];
  for (const s of spans) from.push(from[from.length - 1] + s.length);
  const pairs = spans.flatMap((s, k) => s.map(({ start, end }) => [query, documents[k].slice(start, end)]));
  const scores = await model.predict(pairs);
  const rows = {};
  for (const mode of modes) {
    const into = new Float32Array(documents.length);
    spans.forEach((s, k) => aggregate(mode, scores, from[k], s.length, 1, into, k));
    rows[mode] = Array.from(into);
  }
  return rows;
}

/** The same through the public rank(): windowTokens, or a model loaded with the emulating maxLength. */
async function publicRank(w, i, mode) {
  const { query, documents } = pools[i];
  const settings = windowSettings(w, i, mode);
  const scorer = native || settings.maxLength === fullLength ? model : await CrossEncoder.load(modelDir, { ...loadOptions, maxLength: settings.maxLength });
  const options = { longDocuments: mode, ...(native && { windowTokens: settings.windowTokens }) };
  const row = new Array(documents.length);
  for (const r of await scorer.rank(query, documents, options)) row[r.corpusId] = r.score;
  if (scorer !== model) await scorer.dispose();
  return row;
}

async function counted(fn) {
  const before = model.stats().pairs;
  const started = process.hrtime.bigint();
  const value = await fn();
  return { value, pairs: model.stats().pairs - before, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

const names = ['snippet', 'truncate', ...windows.flatMap((w) => modes.map((m) => `${m}@${w}`))];
const settings = Object.fromEntries(names.map((n) => [n, { scores: [], windows: [], seconds: 0 }]));
const check = { questions: 0, rows: 0, max_abs_diff: 0 };
const record = (name, row, pairs, seconds) => {
  settings[name].scores.push(row);
  settings[name].windows.push(pairs);
  settings[name].seconds = Math.round((settings[name].seconds + seconds) * 10) / 10;
};
const write = (done) => fs.writeFileSync(outFile, JSON.stringify({
  api: native ? 'windowTokens' : 'maxLength', maxLength: fullLength, specials, queryTokens, done, check, settings,
}));

const started = process.hrtime.bigint();
for (let i = 0; i < pools.length; i++) {
  const { query, documents, snippets } = pools[i];
  const s = await counted(async () => Array.from(await model.predict(snippets.map((t) => [query, t]))));
  record('snippet', s.value, s.pairs, s.seconds);
  const t = await counted(async () => {
    const row = new Array(documents.length);
    for (const r of await model.rank(query, documents, { longDocuments: 'truncate' })) row[r.corpusId] = r.score;
    return row;
  });
  record('truncate', t.value, t.pairs, t.seconds);
  for (const w of windows) {
    const r = await counted(() => windowed(w, i));
    // One scoring serves every mode: each mode's row is charged the windows (and time) it would cost alone.
    for (const m of modes) record(`${m}@${w}`, r.value[m], r.pairs, r.seconds);
    if (i < checkCount && (w === windows[0] || w === 'full')) {
      for (const m of modes) {
        const row = await publicRank(w, i, m);
        check.max_abs_diff = Math.max(check.max_abs_diff, ...row.map((v, k) => Math.abs(v - r.value[m][k])));
        check.rows++;
      }
    }
  }
  if (i < checkCount) check.questions++;
  write(i + 1);
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  console.error(`[long-doc-scores] question ${i + 1}/${pools.length} done, ${elapsed.toFixed(0)} s` +
    (check.rows ? `; rank() check max |diff| ${check.max_abs_diff.toExponential(2)} over ${check.rows} rows` : ''));
}
await model.dispose();
