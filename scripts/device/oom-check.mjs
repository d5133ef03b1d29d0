#!/usr/bin/env node
// GPU check: a forward far too large for device memory must be split and retried (not fail, not
// crash), give the scores a normal call gives, and leave the model usable. Uses BERT-base with
// BiomedBERT's config (scripts/bench/st-model.py) so that 20M padded tokens cannot fit on one GPU.
import path from 'node:path';
import { abstractPairs, require, root, stModel } from '../bench/common.mjs';

const { CrossEncoder } = require(path.join(root, 'dist', 'index.js'));
const { tce } = stModel(path.join(root, 'bench', 'models', 'biomedbert-st'));

const model = await CrossEncoder.load(tce, { device: process.argv[2] ?? 'cuda' });
const { pairs } = abstractPairs(40_000);
const reference = await model.predict(pairs.slice(0, 200));
const before = model.stats();
const started = performance.now();
const scores = await model.predict(pairs, { batchSize: pairs.length, maxBatchTokens: 1 << 30 });
const ms = performance.now() - started;
const after = model.stats();
let maxDiff = 0;
for (let i = 0; i < reference.length; i++) maxDiff = Math.max(maxDiff, Math.abs(scores[i] - reference[i]));
const again = await model.predict(pairs.slice(0, 8));
const result = {
  pairs: pairs.length,
  forwardsAfterSplits: after.forwards - before.forwards,
  paddedTokens: after.paddedTokens - before.paddedTokens,
  ms: Math.round(ms),
  maxAbsDiffVsNormalCall: maxDiff,
  usableAfter: again.length === 8 && again.every(Number.isFinite),
};
console.log(JSON.stringify(result));
await model.dispose();
if (result.forwardsAfterSplits < 2) throw new Error('the 20M-token forward did not run out of memory: nothing was split, nothing checked');
if (maxDiff > 1e-2 || !result.usableAfter) throw new Error('scores after the split differ from a normal call, or the model is unusable');
