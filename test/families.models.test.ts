// CrossEncoder parity for the reranker families beyond BERT: small random-weight
// sequence-classification models of XLM-RoBERTa (bge-reranker style), DeBERTa-v3 (mxbai-rerank
// v1 style), ModernBERT (gte-reranker-modernbert style) and ELECTRA, each saved by
// CrossEncoder.save() of sentence-transformers 6 and of 4.1 with its own tokenizer
// (scripts/make-family-fixtures.py), exported by scripts/export.py (for libtorch 1.13 with
// --target-libtorch 1.13), then scored by our CrossEncoder and by sentence-transformers on the
// same multilingual and biomedical pairs, some longer than the saves' max_length of 128.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { projectPython } from '../scripts/torch-python.mjs';
import { repoRoot } from './helpers/child';
import { bioasqPairs, modelTestsSkipReason } from './helpers/fixture-model';
import { familyTokenizers, multilingualTexts } from './helpers/hf-reference';
import { stReference, stSkipReason, type StEnvironment } from './helpers/st-reference';

/** fp32 on the CPU: the same arithmetic in another order (batching, padding, MKL). */
const FP32_BOUND = 1e-5;
const ARCHS = ['xlm-roberta', 'deberta-v2', 'modernbert', 'electra'] as const;
const torch2 = process.env.TCE_TEST_LIBTORCH === 'torch-2.13';

function pairs(): Array<[string, string]> {
  const texts = multilingualTexts();
  const pubmed = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'pubmed_sample.jsonl'), 'utf8')
    .split('\n').filter(Boolean).slice(0, 6).map((l) => (JSON.parse(l) as { text: string }).text);
  const out: Array<[string, string]> = bioasqPairs(12);
  for (let i = 0; i < texts.length; i++) out.push([texts[i]!, texts[(i + 5) % texts.length]!]);
  // Longer than max_length 128: longest_first truncation with each family's specials.
  for (let i = 0; i < pubmed.length; i++) out.push([texts[i]!, pubmed[i]!]);
  out.push(['', ''], ['<mask> [MASK] <s>', '</s> [SEP] text']);
  return out;
}

/** Builds (once per checkout and script version) the saves of `env` and their exports for this libtorch. */
function familyModels(env: StEnvironment): Record<(typeof ARCHS)[number], { st: string; tce: string }> {
  const tokenizers = familyTokenizers(env);
  if ('skip' in tokenizers) throw new Error(tokenizers.skip);
  const script = path.join(repoRoot, 'scripts', 'make-family-fixtures.py');
  const exporter = path.join(repoRoot, 'scripts', 'export.py');
  const dir = path.join(repoRoot, 'test', 'fixtures', 'models', `families-models-${env}`);
  const stamp = path.join(dir, '.built-from');
  const want = JSON.stringify({ script: fs.statSync(script).mtimeMs, tokenizers: tokenizers.dir });
  if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want)) {
    fs.rmSync(dir, { recursive: true, force: true });
    const r = spawnSync(projectPython(env)!, [script, 'models', '--tokenizers', tokenizers.dir, '--out', path.join(dir, 'st')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`make-family-fixtures.py models failed:\n${r.stderr.slice(-4000)}`);
    fs.writeFileSync(stamp, want);
  }
  const target = torch2 ? 'torch2' : 'libtorch-1.13';
  const out = {} as Record<(typeof ARCHS)[number], { st: string; tce: string }>;
  for (const arch of ARCHS) {
    const st = path.join(dir, 'st', arch);
    const tce = path.join(dir, `tce-${target}`, arch);
    const exportStamp = path.join(tce, '.built-from');
    const exportWant = JSON.stringify({ want, export: fs.statSync(exporter).mtimeMs, arch: fs.statSync(path.join(repoRoot, 'scripts', 'export_arch.py')).mtimeMs });
    if (!(fs.existsSync(exportStamp) && fs.readFileSync(exportStamp, 'utf8') === exportWant)) {
      const args = [exporter, st, tce, ...(torch2 ? [] : ['--target-libtorch', '1.13'])];
      const r = spawnSync(projectPython('st6')!, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`export.py ${arch} (${env}) failed:\n${r.stderr.slice(-4000)}`);
      fs.writeFileSync(exportStamp, exportWant);
    }
    out[arch] = { st, tce };
  }
  return out;
}

const environments: Array<{ env: StEnvironment; label: string }> = [
  { env: 'st6', label: 'sentence-transformers 6 / transformers 5' },
  { env: 'st41', label: 'sentence-transformers 4.1 / transformers 4.51' },
];

for (const { env, label } of environments) {
  const reason = stSkipReason(env) ?? modelTestsSkipReason() ?? (projectPython('st6') ? null : 'no .venv to export with');
  describe.skipIf(reason)(`family parity with ${label} (CPU${reason ? `; skipped: ${reason}` : ''})`, () => {
    const input = pairs();
    const loaded: CrossEncoder[] = [];
    let models: ReturnType<typeof familyModels>;
    let reference: ReturnType<typeof stReference>;
    beforeAll(() => {
      models = familyModels(env);
      reference = stReference(env, ARCHS.flatMap((arch) => [
        { model: models[arch].st, kind: 'predict' as const, pairs: input },
        { model: models[arch].st, kind: 'rank' as const, query: input[0]![0], documents: input.map((p) => p[1]), top_k: null },
        { model: models[arch].st, kind: 'predict' as const, pairs: input, activation: 'identity' as const },
      ]));
    });
    afterAll(async () => {
      await Promise.all(loaded.map((m) => m.dispose()));
    });

    test('XLM-R: positions start after the padding index, so 514 rows hold 512 tokens: maxLength 513 is refused at load', async () => {
      await expect(CrossEncoder.load(models['xlm-roberta'].tce, { device: 'cpu', maxLength: 513 }))
        .rejects.toMatchObject({ code: 'TCE_INVALID_OPTION', message: expect.stringMatching(/above the model's 512 positions \(max_position_embeddings 514/) });
      const model = await CrossEncoder.load(models['xlm-roberta'].tce, { device: 'cpu', maxLength: 512 });
      loaded.push(model);
      expect(model.maxLength).toBe(512);
    });

    /** The largest difference between our scores and sentence-transformers'. */
    function worstDifference(ours: number[], theirs: number[]): number {
      expect(ours.length).toBe(theirs.length);
      let worst = 0;
      for (let i = 0; i < theirs.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!));
      return worst;
    }

    ARCHS.forEach((arch, k) => {
      test(`${arch}: predict (sigmoid scores and identity logits) within ${FP32_BOUND} of sentence-transformers, and the same rank order`, async () => {
        const model = await CrossEncoder.load(models[arch].tce, { device: 'cpu' });
        loaded.push(model);
        const expected = reference.results[3 * k]!;
        expect(expected.error).toBeUndefined();
        const theirs = (expected.scores as number[]).map(Number);
        expect(worstDifference(Array.from(await model.predict(input)), theirs)).toBeLessThanOrEqual(FP32_BOUND);
        // Random weights still separate the pairs: the comparison is not between constants.
        expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(1e-3);

        // The logits themselves: near 0 or 1 the sigmoid flattens, and would hide a logit error.
        const logits = reference.results[3 * k + 2]!;
        expect(logits.error).toBeUndefined();
        const theirLogits = (logits.scores as number[]).map(Number);
        const ourLogits = Array.from(await model.predict(input, { activation: 'identity' }) as Float32Array);
        expect(worstDifference(ourLogits, theirLogits)).toBeLessThanOrEqual(FP32_BOUND);
        expect(Math.max(...theirLogits) - Math.min(...theirLogits)).toBeGreaterThan(1e-3);

        const ranked = reference.results[3 * k + 1]!.ranking!;
        const mine = await model.rank(input[0]![0], input.map((p) => p[1]));
        const byId = new Map(ranked.map((r) => [r.corpus_id, r.score]));
        const score = (id: number) => byId.get(id) ?? NaN;
        expect(mine.length).toBe(ranked.length);
        for (let i = 0; i < ranked.length; i++) {
          expect(Math.abs(mine[i]!.score - score(mine[i]!.corpusId))).toBeLessThanOrEqual(FP32_BOUND);
          if (mine[i]!.corpusId !== ranked[i]!.corpus_id) {
            // Two documents within the fp32 bound may trade places.
            expect(Math.abs(score(mine[i]!.corpusId) - score(ranked[i]!.corpus_id))).toBeLessThanOrEqual(FP32_BOUND);
          }
        }
      });
    });
  });
}
