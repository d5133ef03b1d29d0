// AOTInductor packages (model.pt2, scripts/export.py --format pt2) on PyTorch 2.13's libtorch:
// scores against sentence-transformers 6 on the same saves (the seed's BERT architecture and the
// bundled model), which file a directory holding both formats loads, and the refusals: a package
// compiled for another device or precision, and a damaged package. Each package is compiled once,
// in beforeAll (AOTInductor compiles C++: tens of seconds per model on a small machine).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type RankResult } from '../lib/cross-encoder';
import { readExportMetadata } from '../lib/torchscript-archive';
import { projectPython } from '../scripts/torch-python.mjs';
import { repoRoot } from './helpers/child';
import {
  bioasqPairs, copyModelDir, damageModelFile, fakePt2, fixtureModel, loadWithSimulatedOom, modelTestsSkipReason, referenceLogits,
} from './helpers/fixture-model';
import { stModel, stReference, stSkipReason, type StRanked } from './helpers/st-reference';

/** The bound for a compiled package against sentence-transformers in fp32. */
const PT2_BOUND = 1e-4;

const reason = stSkipReason('st6') ?? modelTestsSkipReason();
const modelsDir = path.join(repoRoot, 'test', 'fixtures', 'models');

function python(script: string, args: string[]): string {
  const result = spawnSync(projectPython('st6')!, [path.join(repoRoot, 'scripts', script), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${script} failed:\n${result.stderr.slice(-4000)}`);
  return result.stdout;
}

/** Exports `stDir` as model.pt2 into a new directory (beside nothing else but the configs). */
function exportPt2(stDir: string, prefix: string): string {
  const out = fs.mkdtempSync(path.join(modelsDir, `${prefix}-`));
  python('export.py', [stDir, out, '--format', 'pt2', '--device', 'cpu']);
  return out;
}

/** Questions with snippets, and with PubMed abstracts long enough to be truncated at 512. */
function pairs(): Array<[string, string]> {
  const pubmed = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'pubmed_sample.jsonl'), 'utf8')
    .split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { text: string }).text);
  const short = bioasqPairs(30);
  const long = short.slice(0, 6).map(([q], i): [string, string] => [q, `${pubmed[2 * i]} ${pubmed[2 * i + 1]}`]);
  return [...short, ...long];
}

function expectWithin(actual: ArrayLike<number>, expected: ArrayLike<number>, bound: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(bound);
}

/** The package in `dir` gives the logits of `base`'s eager reference model on 12 BioASQ pairs. */
async function expectLogitsOfReference(dir: string, base: string): Promise<void> {
  const all = bioasqPairs(12);
  const model = await CrossEncoder.load(dir, { device: 'cpu', activation: 'identity' });
  try {
    const scores = (await model.predict(all)) as Float32Array;
    const expected = await referenceLogits(base, all, model.maxLength);
    expectWithin(scores, expected.map((row) => row[0]), PT2_BOUND);
  } finally {
    await model.dispose();
  }
}

/**
 * Same order as sentence-transformers, every document with its own score; two documents may trade
 * places only when sentence-transformers' scores for them are within the bound of each other.
 */
function expectSameRanking(ours: RankResult[], theirs: StRanked[]): void {
  expect(ours.map((r) => r.corpusId).sort((a, b) => a - b)).toEqual(theirs.map((r) => r.corpus_id).sort((a, b) => a - b));
  const scoreOf = new Map(theirs.map((r) => [r.corpus_id, r.score]));
  for (let i = 0; i < theirs.length; i++) {
    expect(Math.abs(ours[i].score - scoreOf.get(ours[i].corpusId)!)).toBeLessThanOrEqual(PT2_BOUND);
    if (ours[i].corpusId !== theirs[i].corpus_id) {
      expect(Math.abs(scoreOf.get(ours[i].corpusId)! - theirs[i].score)).toBeLessThanOrEqual(PT2_BOUND);
    }
  }
}

if (reason) console.warn(`.pt2 tests skipped: ${reason}`);

describe.skipIf(reason)('model.pt2 (AOTInductor) on torch 2.13, CPU', () => {
  const made: string[] = [];
  let seed: { st: string; tce: string };
  let seedPt2: string;
  let bundledSt: string;
  let bundledPt2: string;

  beforeAll(() => {
    seed = stModel('st6', 'one', { numLabels: 1 });
    seedPt2 = exportPt2(seed.st, 'pt2-seed');
    bundledSt = fs.mkdtempSync(path.join(modelsDir, 'bundled-st-'));
    python('st-from-export.py', [path.join(repoRoot, 'models', 'biomed-minilm-ce'), bundledSt]);
    bundledPt2 = exportPt2(bundledSt, 'pt2-bundled');
    made.push(seedPt2, bundledSt, bundledPt2);
  });

  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });

  const copy = (dir: string, prefix: string) => {
    const out = copyModelDir(dir, prefix);
    made.push(out);
    return out;
  };

  test('the package says what it was compiled for, read without libtorch', () => {
    const metadata = readExportMetadata(path.join(seedPt2, 'model.pt2'));
    expect(metadata).toMatchObject({
      format: 'pt2', device: 'cpu', precision: 'fp32',
      input_names: ['input_ids', 'attention_mask', 'token_type_ids'], attn_implementation: 'sdpa',
    });
    // The BERT config's position table (BiomedBERT: 512 rows).
    const config = JSON.parse(fs.readFileSync(path.join(seedPt2, 'config.json'), 'utf8'));
    expect(metadata?.max_positions).toBe(config.max_position_embeddings);
    expect(metadata?.torch_version).toMatch(/^2\.13\./);
    // The longest sequence the package takes: BERT's whole position table (512 positions).
    expect(metadata?.max_sequence).toBe(config.max_position_embeddings);
  });

  for (const which of ['seed', 'bundled'] as const) {
    test(`${which} model: predict within ${PT2_BOUND} of sentence-transformers, rank in the same order`, async () => {
      const st = which === 'seed' ? seed.st : bundledSt;
      const dir = which === 'seed' ? seedPt2 : bundledPt2;
      const all = pairs();
      const query = all[0][0];
      const documents = all.map(([, d]) => d);
      const [predicted, ranked] = stReference('st6', [
        { model: st, kind: 'predict', pairs: all },
        { model: st, kind: 'rank', query, documents, top_k: null, return_documents: false },
      ]).results;
      const model = await CrossEncoder.load(dir, { device: 'cpu' });
      try {
        // Batches of 7 and of 1: other batch sizes and lengths than the export's example.
        expectWithin((await model.predict(all, { batchSize: 7 })) as Float32Array, predicted.scores as number[], PT2_BOUND);
        expectWithin([(await model.predict(all[5])) as number], [(predicted.scores as number[])[5]], PT2_BOUND);
        expectSameRanking(await model.rank(query, documents), ranked.ranking!);
      } finally {
        await model.dispose();
      }
    });
  }

  test("the engine's out-of-memory split runs a package as it runs TorchScript: the same scores in smaller forwards", async () => {
    const all = pairs().slice(0, 16);
    const whole = await CrossEncoder.load(seedPt2, { device: 'cpu' });
    const split = await loadWithSimulatedOom(seedPt2, 600, { device: 'cpu' });
    try {
      const expected = (await whole.predict(all, { batchSize: 16, maxBatchTokens: 16384 })) as Float32Array;
      const before = split.stats().forwards;
      const got = (await split.predict(all, { batchSize: 16, maxBatchTokens: 16384 })) as Float32Array;
      // More forwards than the one batch: every batch above 600 padded tokens was split and retried.
      expect(split.stats().forwards - before).toBeGreaterThan(1);
      expectWithin(got, expected, 1e-5);
    } finally {
      await whole.dispose();
      await split.dispose();
    }
  });

  test('a package taking (input_ids, attention_mask) is fed the two inputs its call spec names', async () => {
    const base = fixtureModel('tiny-two-inputs', { numLabels: 1, vocab: 'biomedbert', inputs: 'input_ids,attention_mask' });
    const dir = copy(base, 'two-inputs-pt2');
    fs.rmSync(path.join(dir, 'model.pt'));
    python('make-fixture-model.py', ['pt2', '--model', base, '--out', path.join(dir, 'model.pt2')]);
    // No tce_input_names in its metadata: only the call spec says what it takes.
    expect(readExportMetadata(path.join(dir, 'model.pt2'))).toMatchObject({ format: 'pt2', device: 'cpu' });
    expect(readExportMetadata(path.join(dir, 'model.pt2'))?.input_names).toBeUndefined();
    await expectLogitsOfReference(dir, base);
  });

  test('a package taking its inputs positionally (empty keyword call spec) is fed them as tce_input_names names them', async () => {
    const base = fixtureModel('tiny-two-inputs', { numLabels: 1, vocab: 'biomedbert', inputs: 'input_ids,attention_mask' });
    const dir = copy(base, 'positional-pt2');
    fs.rmSync(path.join(dir, 'model.pt'));
    python('make-fixture-model.py', ['pt2', '--model', base, '--out', path.join(dir, 'model.pt2'), '--positional']);
    expect(readExportMetadata(path.join(dir, 'model.pt2'))?.input_names).toEqual(['input_ids', 'attention_mask']);
    await expectLogitsOfReference(dir, base);
  });

  test('a positional package whose tce_input_names count differs from its call spec is refused at load', async () => {
    const base = fixtureModel('tiny-two-inputs', { numLabels: 1, vocab: 'biomedbert', inputs: 'input_ids,attention_mask' });
    const dir = copy(base, 'positional-miscount-pt2');
    fs.rmSync(path.join(dir, 'model.pt'));
    python('make-fixture-model.py', ['pt2', '--model', base, '--out', path.join(dir, 'model.pt2'), '--positional',
      '--metadata', 'tce_input_names=input_ids,attention_mask,token_type_ids']);
    await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({
      code: 'TCE_MODEL_LOAD_FAILED',
      message: expect.stringMatching(/model\.pt2 takes 2 positional inputs, but 3 are named for it \(input_ids, attention_mask, token_type_ids\)/),
    });
  });

  test('a sequence bound in the metadata that is not a positive whole number ("512x") is refused at load', async () => {
    const base = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const dir = copy(base, 'bad-bound-pt2');
    fs.rmSync(path.join(dir, 'model.pt'));
    python('make-fixture-model.py', ['pt2', '--model', base, '--out', path.join(dir, 'model.pt2'), '--metadata', 'tce_max_sequence=512x']);
    await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({
      code: 'TCE_MODEL_LOAD_FAILED',
      message: expect.stringMatching(/model\.pt2's metadata: tce_max_sequence is not a positive whole number; export it again/),
    });
  });

  test('with model.pt beside it, model.pt2 is loaded; TCE_MODEL_FORMAT=torchscript loads model.pt', async () => {
    const dir = copy(seedPt2, 'both');
    fs.copyFileSync(path.join(seed.tce, 'model.pt'), path.join(dir, 'model.pt'));
    // A damaged model.pt shows which file each load reads.
    damageModelFile(path.join(dir, 'model.pt'), { entry: '/data/0' });
    const model = await CrossEncoder.load(dir, { device: 'cpu' });
    try {
      expect(Number.isFinite((await model.predict(['a question', 'a document'])) as number)).toBe(true);
    } finally {
      await model.dispose();
    }
    process.env.TCE_MODEL_FORMAT = 'torchscript';
    try {
      await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({ code: 'TCE_MODEL_FILE', message: expect.stringMatching(/model\.pt is damaged/) });
    } finally {
      delete process.env.TCE_MODEL_FORMAT;
    }
  });

  test('a package compiled for CUDA is refused on the CPU, before its code is loaded', async () => {
    const dir = copy(seedPt2, 'cuda-package');
    fakePt2(path.join(dir, 'model.pt2'), 'cuda');
    await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({
      code: 'TCE_MODEL_LOAD_FAILED',
      message: expect.stringMatching(/model\.pt2 was compiled for CUDA and runs only there; it cannot run on the CPU\. Load it with device: 'cuda', or export a package for this device \(.*--format pt2 --device cpu\)/),
    });
  });

  test('a package computes only in its own precision: an fp32 package loaded with bf16 is refused', async () => {
    await expect(CrossEncoder.load(seedPt2, { device: 'cpu', precision: 'bf16' })).rejects.toMatchObject({
      code: 'TCE_MODEL_LOAD_FAILED',
      message: expect.stringMatching(/compiled to compute in fp32.*precision: 'fp32', or export it again with --precision bf16/s),
    });
  });

  test('a damaged package (its compiled library fails its CRC) is TCE_MODEL_FILE', async () => {
    const dir = copy(seedPt2, 'damaged-package');
    damageModelFile(path.join(dir, 'model.pt2'), { entry: '.wrapper.so' });
    await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({
      code: 'TCE_MODEL_FILE',
      message: expect.stringMatching(/model\.pt2 is damaged: the zip entry \S+\.wrapper\.so fails its CRC check/),
    });
  });
});
