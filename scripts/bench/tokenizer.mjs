#!/usr/bin/env node
// Throughput of our encodeBatch against Hugging Face's `tokenizers` (npm) on the same pairs:
// BioASQ (question, snippet) pairs plus (question, PubMed abstract) pairs, maxLength 512, with
// the BiomedBERT WordPiece tokenizer; then the same documents as single texts through the other
// families' tokenizers (XLM-R and DeBERTa-v3 sentencepiece Unigrams, a ModernBERT byte-level BPE,
// the Qwen2/Qwen3 and Llama-3 byte-level BPEs with their Oniguruma Split regex, as
// scripts/make-family-fixtures.py trains them: small vocabularies, real pipelines).
// Both run in this process, in alternating rounds; medians are reported. Prints one JSON line
// and writes it to bench/results/tokenizer-<date>.json.
//
// Needs the addon and dist/ built (npm run build:addon && npm run build:ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { bertTokenizerJson, readVocab } from '../hf-bert-tokenizer.mjs';
import { median, writeResult } from './common.mjs';
import { spawnSync } from 'node:child_process';
import { projectPython } from '../torch-python.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { Tokenizer } = require(path.join(root, 'dist/index.js'));
const hf = require('tokenizers');

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const rounds = Number(args.rounds ?? 7);
const maxLength = Number(args.maxLength ?? 512);

const shared = path.resolve(root, '../shared/data');
const fixtures = path.join(root, 'test/fixtures/tokenizer');
const haveShared = fs.existsSync(path.join(shared, 'bioasq_pairs.jsonl'));
const dataDir = haveShared ? shared : fixtures;
const readJsonl = (f) => fs.readFileSync(path.join(dataDir, f), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const bioasq = readJsonl(haveShared ? 'bioasq_pairs.jsonl' : 'bioasq_pairs_sample.jsonl');
const pubmed = readJsonl(haveShared ? 'pubmed_abstracts.jsonl' : 'pubmed_sample.jsonl');
const pairs = [
  ...bioasq.map((r) => [r.query, r.document]),
  ...pubmed.map((r, i) => [bioasq[i % bioasq.length].query, r.text]),
];
const bytes = pairs.reduce((n, [a, b]) => n + Buffer.byteLength(a) + Buffer.byteLength(b), 0);

const tokenizerJson = bertTokenizerJson(readVocab(path.join(haveShared ? shared : fixtures, 'biomedbert_vocab.txt')));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tce-bench-'));
fs.writeFileSync(path.join(tmp, 'tokenizer.json'), JSON.stringify(tokenizerJson));
const ours = Tokenizer.fromFile(path.join(tmp, 'tokenizer.json'));
const ref = hf.Tokenizer.fromString(JSON.stringify(tokenizerJson));
ref.setTruncation(maxLength);
fs.rmSync(tmp, { recursive: true, force: true });

// tokenizers' npm encodeBatch takes single strings only (0.23), so its pair path is encode(a, b)
// per pair: each is an async task on libuv's thread pool, all in flight at once.
const runHf = () => Promise.all(pairs.map(([a, b]) => ref.encode(a, b)));
const runOurs = () => ours.encodeBatch(pairs, { maxLength });
// The batch path both libraries share: the documents alone, as single texts.
const docs = pairs.map((p) => p[1]);
const docBytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
const runHfDocs = () => ref.encodeBatch(docs);
const runOursDocs = () => ours.encodeBatch(docs, { maxLength });

// Same output first: the comparison is only meaningful if both do the same work.
{
  const [o, h] = await Promise.all([runOurs(), runHf()]);
  const tokens = (list, get) => list.reduce((n, e) => n + get(e), 0);
  const ot = tokens(o, (e) => e.ids.length);
  const ht = tokens(h, (e) => e.getIds().length);
  if (ot !== ht) console.error(`note: token counts differ (ours ${ot}, tokenizers ${ht}); see docs/TOKENIZER.md on 0.23's early exit`);
}

const time = async (fn) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
await runOurs();
await runHf();
const oursMs = [];
const hfMs = [];
const oursDocMs = [];
const hfDocMs = [];
for (let r = 0; r < rounds; r++) {
  if (r % 2 === 0) {
    oursMs.push(await time(runOurs));
    hfMs.push(await time(runHf));
    oursDocMs.push(await time(runOursDocs));
    hfDocMs.push(await time(runHfDocs));
  } else {
    hfMs.push(await time(runHf));
    oursMs.push(await time(runOurs));
    hfDocMs.push(await time(runHfDocs));
    oursDocMs.push(await time(runOursDocs));
  }
}
const stats = (ms, n = pairs.length, b = bytes, unit = 'pairsPerSec') => {
  const m = median(ms);
  return { medianMs: +m.toFixed(2), [unit]: Math.round(n / (m / 1000)), mbPerSec: +(b / 1e6 / (m / 1000)).toFixed(2), roundsMs: ms.map((x) => +x.toFixed(1)) };
};
const o = stats(oursMs);
const h = stats(hfMs);
const result = {
  // The load average before the runs (1, 5, 15 min): ratios on a shared machine are only as good as it is quiet.
  loadAverage: os.loadavg().map((l) => +l.toFixed(2)),
  data: haveShared ? '../shared/data (full)' : 'test/fixtures/tokenizer (sample)',
  pairs: pairs.length,
  bytes,
  maxLength,
  rounds,
  ours: o,
  tokenizers: { ...h, version: require('tokenizers/package.json').version, pairPath: 'Promise.all(encode(a, b))' },
  ratio: +(o.pairsPerSec / h.pairsPerSec).toFixed(2),
  singleTexts: {
    texts: docs.length,
    bytes: docBytes,
    ours: stats(oursDocMs, docs.length, docBytes, 'textsPerSec'),
    tokenizers: { ...stats(hfDocMs, docs.length, docBytes, 'textsPerSec'), path: 'encodeBatch(texts)' },
  },
};
result.singleTexts.ratio = +(result.singleTexts.ours.textsPerSec / result.singleTexts.tokenizers.textsPerSec).toFixed(2);

// The other families: the tokenizer directories the parity tests build (built here when absent).
const familyDir = path.join(root, 'test', 'fixtures', 'models', 'families-tokenizers-st6');
const familyNames = ['xlmr', 'deberta-v3', 'modernbert', 'qwen2', 'llama3'];
if (!familyNames.every((name) => fs.existsSync(path.join(familyDir, name, 'tokenizer.json')))) {
  const python = projectPython('st6');
  const r = python ? spawnSync(python, [path.join(root, 'scripts', 'make-family-fixtures.py'), 'tokenizers', '--out', familyDir], { encoding: 'utf8' }) : null;
  if (!r || r.status !== 0) console.error(`note: family tokenizers not built (${python ? r.stderr.slice(-300) : 'no .venv'}); families skipped`);
}
if (fs.existsSync(path.join(familyDir, 'xlmr', 'tokenizer.json'))) {
  result.families = {};
  for (const name of familyNames) {
    if (!fs.existsSync(path.join(familyDir, name, 'tokenizer.json'))) continue;
    const mine = Tokenizer.fromModelDir(path.join(familyDir, name));
    const theirs = hf.Tokenizer.fromFile(path.join(familyDir, name, 'tokenizer.json'));
    theirs.setTruncation(maxLength);
    const runMine = () => mine.encodeBatch(docs, { maxLength });
    const runTheirs = () => theirs.encodeBatch(docs);
    await runMine();
    await runTheirs();
    const mineMs = [];
    const theirsMs = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        mineMs.push(await time(runMine));
        theirsMs.push(await time(runTheirs));
      } else {
        theirsMs.push(await time(runTheirs));
        mineMs.push(await time(runMine));
      }
    }
    const m = stats(mineMs, docs.length, docBytes, 'textsPerSec');
    const t = stats(theirsMs, docs.length, docBytes, 'textsPerSec');
    result.families[name] = { vocab: mine.vocabSize, ours: m, tokenizers: { ...t, path: 'encodeBatch(texts)' }, ratio: +(m.textsPerSec / t.textsPerSec).toFixed(2) };
  }
}
writeResult('tokenizer', result);
