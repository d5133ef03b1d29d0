// Parity with sentence-transformers itself: real CrossEncoder saves (made by CrossEncoder.save()
// of sentence-transformers 6 and of 4.1, the reference model's version), exported by
// scripts/export.py, scored by our CrossEncoder and by sentence_transformers.CrossEncoder on the
// same pairs. Runs on PyTorch 2.13's libtorch (vitest project torch-2.13), which exported them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type RankResult } from '../lib/cross-encoder';
import { repoRoot } from './helpers/child';
import { projectPython } from '../scripts/torch-python.mjs';
import { bioasqPairs, modelTestsSkipReason } from './helpers/fixture-model';
import { stModel, stReference, stSkipReason, type StEnvironment, type StRanked, type StRequest } from './helpers/st-reference';

/** fp32 on the CPU: the same arithmetic in another order (batching, padding, MKL). */
const FP32_BOUND = 1e-5;
/**
 * bf16 autocast (our precision: 'bf16') against sentence-transformers in fp32, on sigmoid scores:
 * bf16 keeps 8 bits of mantissa, so logits of these 2-layer models move by up to ~1e-2.
 */
const BF16_BOUND = 3e-2;
/**
 * bf16 against sentence-transformers under torch.autocast(bfloat16), which casts every Linear's
 * weight on each call where our core casts them once at load: the same roundings, summed in
 * other orders (batching, padding).
 */
const BF16_AUTOCAST_BOUND = 1e-2;

const pubmed = fs
  .readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'pubmed_sample.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => (JSON.parse(line) as { text: string }).text);

/** BioASQ question/snippet pairs, and questions against two PubMed abstracts (> 512 tokens). */
function parityPairs(): Array<[string, string]> {
  const short = bioasqPairs(40);
  const long = short.slice(0, 12).map(([question], i): [string, string] => [question, `${pubmed[2 * i]} ${pubmed[2 * i + 1]}`]);
  return [...short, ...long, ['', ''], ['[SEP] literal', 'a [CLS] inside']];
}

function worstDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

/**
 * Same ranking as sentence-transformers, allowing two documents whose scores are within the fp32
 * bound to trade places (their order is decided by the last bits).
 */
function expectSameRanking(ours: RankResult[], theirs: StRanked[], scoreOf: (id: number) => number) {
  expect(ours.map((r) => r.corpusId).sort((a, b) => a - b)).toEqual(theirs.map((r) => r.corpus_id).sort((a, b) => a - b));
  for (let i = 0; i < theirs.length; i++) {
    if (ours[i].corpusId !== theirs[i].corpus_id) {
      expect(Math.abs(scoreOf(ours[i].corpusId) - scoreOf(theirs[i].corpus_id))).toBeLessThanOrEqual(FP32_BOUND);
    }
    expect(Math.abs(ours[i].score - theirs[i].score)).toBeLessThanOrEqual(FP32_BOUND);
  }
}

const environments: Array<{ env: StEnvironment; label: string }> = [
  { env: 'st6', label: 'sentence-transformers 6 / transformers 5' },
  { env: 'st41', label: 'sentence-transformers 4.1 / transformers 4.51' },
];

for (const { env, label } of environments) {
  const reason = stSkipReason(env) ?? modelTestsSkipReason();
  if (reason) console.warn(`parity tests against ${label} skipped: ${reason}`);

  describe.skipIf(reason)(`parity with ${label} (CPU)`, () => {
    const pairs = parityPairs();
    const loaded: CrossEncoder[] = [];
    let models: Record<'one' | 'three' | 'identity' | 'legacy', { st: string; tce: string }>;

    const load = async (dir: string, options: Parameters<typeof CrossEncoder.load>[1] = {}) => {
      const model = await CrossEncoder.load(dir, { device: 'cpu', ...options });
      loaded.push(model);
      return model;
    };

    beforeAll(() => {
      models = {
        one: stModel(env, 'one', { numLabels: 1 }),
        three: stModel(env, 'three', { numLabels: 3 }),
        identity: stModel(env, 'identity', { numLabels: 1, activation: 'identity' }),
        legacy: stModel(env, 'legacy', { numLabels: 1, activation: 'tanh', legacyKey: true }),
      };
    });

    afterAll(async () => {
      await Promise.all(loaded.map((m) => m.dispose()));
    });

    test('the saves are what that version writes', () => {
      const stConfig = path.join(models.identity.st, 'config_sentence_transformers.json');
      if (env === 'st6') {
        // 5.x and later: activation in config_sentence_transformers.json, no vocab.txt.
        expect(JSON.parse(fs.readFileSync(stConfig, 'utf8')).activation_fn).toBe('torch.nn.modules.linear.Identity');
        expect(fs.existsSync(path.join(models.identity.tce, 'config_sentence_transformers.json'))).toBe(true);
        expect(fs.existsSync(path.join(models.identity.st, 'vocab.txt'))).toBe(false);
      } else {
        const config = JSON.parse(fs.readFileSync(path.join(models.identity.st, 'config.json'), 'utf8'));
        expect(config.sentence_transformers.activation_fn).toBe('torch.nn.modules.linear.Identity');
      }
      const legacy = JSON.parse(fs.readFileSync(path.join(models.legacy.tce, 'config.json'), 'utf8'));
      expect(legacy.sbert_ce_default_activation_function).toBe('torch.nn.modules.activation.Tanh');
      expect(legacy.sentence_transformers).toBeUndefined();
    });

    test('predict: default activation, Identity, applySoftmax, one and three labels (fp32, 1e-5)', async () => {
      const requests: StRequest[] = [
        { model: models.one.st, kind: 'predict', pairs },
        { model: models.one.st, kind: 'predict', pairs, activation: 'identity' },
        { model: models.identity.st, kind: 'predict', pairs },
        { model: models.legacy.st, kind: 'predict', pairs },
        { model: models.three.st, kind: 'predict', pairs },
        { model: models.three.st, kind: 'predict', pairs, apply_softmax: true },
        { model: models.one.st, kind: 'predict', pairs: pairs[3] },
        { model: models.one.st, kind: 'predict', pairs: [] },
      ];
      const results = stReference(env, requests).results;
      const reference = results.map((r) => r.scores);
      const one = await load(models.one.tce);
      const identity = await load(models.identity.tce);
      const legacy = await load(models.legacy.tce);
      const three = await load(models.three.tce);

      const sigmoid = (await one.predict(pairs)) as Float32Array;
      expect(worstDifference(sigmoid, reference[0] as number[])).toBeLessThanOrEqual(FP32_BOUND);
      console.log(`${label}: fp32 logits differ by at most ${worstDifference((await one.predict(pairs, { activation: 'identity' })) as Float32Array, reference[1] as number[]).toExponential(2)}`);
      const logits = (await one.predict(pairs, { activation: 'identity' })) as Float32Array;
      expect(worstDifference(logits, reference[1] as number[])).toBeLessThanOrEqual(FP32_BOUND);
      // The scores spread, so that agreeing on them means something.
      expect(Math.max(...logits) - Math.min(...logits)).toBeGreaterThan(1);
      // A save whose activation is Identity is scored with Identity, not the one-label Sigmoid.
      const saved = (await identity.predict(pairs)) as Float32Array;
      expect(worstDifference(saved, reference[2] as number[])).toBeLessThanOrEqual(FP32_BOUND);
      expect(Math.min(...saved)).toBeLessThan(0);
      const tanh = (await legacy.predict(pairs)) as Float32Array;
      expect(worstDifference(tanh, reference[3] as number[])).toBeLessThanOrEqual(FP32_BOUND);

      for (const [k, options] of [[4, {}], [5, { applySoftmax: true }]] as const) {
        const rows = (await three.predict(pairs, options)) as Float32Array[];
        const expected = reference[k] as number[][];
        expect(rows).toHaveLength(expected.length);
        const worst = Math.max(...rows.map((row, i) => worstDifference(row, expected[i])));
        expect(worst).toBeLessThanOrEqual(FP32_BOUND);
      }

      const single = await one.predict(pairs[3]);
      expect(typeof single).toBe('number');
      expect(Math.abs((single as number) - (reference[6] as number))).toBeLessThanOrEqual(FP32_BOUND);
      // An empty list gives an empty result, as sentence-transformers 5.1 and later; 4.1 raised.
      const empty = await one.predict([]);
      expect(empty).toHaveLength(0);
      if (env === 'st6') expect(reference[7]).toHaveLength(0);
      else expect(results[7].error).toMatch(/IndexError/);
    });

    test('rank: order, topK, returnDocuments and tied documents as sentence-transformers', async () => {
      const [query] = pairs[0];
      const snippets = pairs.slice(0, 30).map(([, document]) => document);
      // Ties: the same text three times; equal scores keep input order (a stable sort).
      const documents = [...snippets.slice(0, 10), snippets[4], ...snippets.slice(10), snippets[4]];
      const requests: StRequest[] = [
        { model: models.one.st, kind: 'rank', query, documents },
        { model: models.one.st, kind: 'rank', query, documents, top_k: 5, return_documents: true },
      ];
      const [all, top] = stReference(env, requests).results.map((r) => r.ranking as StRanked[]);
      const one = await load(models.one.tce);
      const scores = (await one.predict(documents.map((d) => [query, d] as [string, string]))) as Float32Array;

      const ours = await one.rank(query, documents);
      expect(ours).toHaveLength(documents.length);
      expectSameRanking(ours, all, (id) => scores[id]);
      expect(ours.every((r) => r.text === undefined)).toBe(true);

      const ourTop = await one.rank(query, documents, { topK: 5, returnDocuments: true });
      expect(ourTop).toHaveLength(5);
      expectSameRanking(ourTop, top, (id) => scores[id]);
      for (const r of ourTop) expect(r.text).toBe(documents[r.corpusId]);

      const tied = ours.filter((r) => documents[r.corpusId] === snippets[4]).map((r) => r.corpusId);
      expect(tied).toHaveLength(3);
      const tiedScores = tied.map((id) => scores[id]);
      if (tiedScores.every((s) => s === tiedScores[0])) expect(tied).toEqual([...tied].sort((a, b) => a - b));
      expect(Math.max(...tiedScores) - Math.min(...tiedScores)).toBeLessThanOrEqual(FP32_BOUND);
    });

    // These test models' weights are spread ten times wider than a trained BERT's (so that scores
    // differ), which magnifies float16 rounding: the bound here is 2e-3.
    test('weights stored in float16 (export.py --half-storage) are upcast at load: half the file, scores within 2e-3', async () => {
      const out = path.join(path.dirname(models.one.tce), 'tce-half');
      const exported = spawnSync(projectPython(env)!, [path.join(repoRoot, 'scripts', 'export.py'), models.one.st, out, '--half-storage'], { encoding: 'utf8' });
      expect(exported.status, exported.stderr).toBe(0);
      expect(JSON.parse(exported.stdout.trim().split('\n').pop()!).stored_dtype).toBe('float16');
      const size = (dir: string) => fs.statSync(path.join(dir, 'model.pt')).size;
      expect(size(out)).toBeLessThan(0.6 * size(models.one.tce));
      const [reference] = stReference(env, [{ model: models.one.st, kind: 'predict', pairs }]).results.map((r) => r.scores as number[]);
      const half = await load(out);
      expect(half.precision).toBe('fp32');
      const worst = worstDifference((await half.predict(pairs)) as Float32Array, reference);
      expect(worst).toBeLessThanOrEqual(2e-3);
      console.log(`${label}: float16-stored weights, fp32 scores differ by at most ${worst.toExponential(2)}`);
    });

    test(`bf16 (Linear weights cast at load) within ${BF16_AUTOCAST_BOUND} of sentence-transformers under bf16 autocast, ${BF16_BOUND} of fp32`, async () => {
      const [reference, autocast] = stReference(env, [
        { model: models.one.st, kind: 'predict', pairs, activation: 'identity' },
        { model: models.one.st, kind: 'predict', pairs, activation: 'identity', autocast: 'bf16' },
      ]).results.map((r) => r.scores as number[]);
      const bf16 = await load(models.one.tce, { precision: 'bf16' });
      const scores = (await bf16.predict(pairs, { activation: 'identity' })) as Float32Array;
      const sigmoid = (values: ArrayLike<number>) => Array.from(values, (v) => 1 / (1 + Math.exp(-v)));
      const vsAutocast = worstDifference(sigmoid(scores), sigmoid(autocast));
      expect(vsAutocast).toBeLessThanOrEqual(BF16_AUTOCAST_BOUND);
      const worst = worstDifference(sigmoid(scores), sigmoid(reference));
      console.log(`${label}: bf16 sigmoid scores differ by at most ${vsAutocast.toExponential(2)} from its bf16 autocast, ${worst.toExponential(2)} from fp32`);
      expect(worst).toBeLessThanOrEqual(BF16_BOUND);
      // bf16 really ran: fp32 would agree to 1e-5.
      expect(worst).toBeGreaterThan(FP32_BOUND);
    });
  });
}
