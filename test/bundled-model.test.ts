// The ready-made reranker (models/biomed-minilm-ce, its own npm package): found without a path
// (through the npm workspace link in a clone), scored as sentence-transformers scores the same
// weights, and ranking real biomedical text sensibly; without its package, the error says which
// npm command installs it. Its evaluation on BioASQ (npm run bench:rerank) is in its README.md and
// bench/results/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BUNDLED_MODEL, BUNDLED_MODEL_PACKAGE, bundledModelDir } from '../lib/bundled-model';
import { CrossEncoder } from '../lib/cross-encoder';
import { Tokenizer } from '../lib/tokenizer';
import { repoRoot, runChild } from './helpers/child';
import { modelTestsSkipReason } from './helpers/fixture-model';
import { stReference, stSkipReason } from './helpers/st-reference';
import { projectPython } from '../scripts/torch-python.mjs';

/** fp32 on the CPU, same weights: the same arithmetic in another order (batching, padding). */
const FP32_BOUND = 1e-5;

interface Labelled { query: string; document: string; label: number }
const sample: Labelled[] = fs
  .readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'bioasq_pairs_sample.jsonl'), 'utf8')
  .split('\n').filter(Boolean).map((line) => JSON.parse(line) as Labelled);
const seed = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'demo', 'seed.json'), 'utf8')) as {
  query: string; documents: Array<{ pmid: string; title: string; text: string }>;
};

/** Share of (gold, other) pairs where the gold snippet scores higher (ROC AUC). */
function auc(scores: ArrayLike<number>, labels: number[]): number {
  let wins = 0, total = 0;
  labels.forEach((a, i) => labels.forEach((b, j) => {
    if (a === 1 && b === 0) {
      total += 1;
      wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }));
  return wins / total;
}

const reason = modelTestsSkipReason();
if (reason) console.warn(`bundled model tests skipped: ${reason}`);

describe.skipIf(reason)('the bundled reranker', () => {
  let model: CrossEncoder;
  let scores: Float32Array;

  beforeAll(async () => {
    model = await CrossEncoder.load({ device: 'cpu' });
    scores = (await model.predict(sample.map((p): [string, string] => [p.query, p.document]))) as Float32Array;
  });
  afterAll(async () => {
    await model?.dispose();
  });

  test('CrossEncoder.load() with no directory, or with its name, loads models/biomed-minilm-ce', async () => {
    expect(bundledModelDir()).toBe(path.join(repoRoot, 'models', BUNDLED_MODEL));
    expect(model.modelDir).toBe(bundledModelDir());
    expect(model.numLabels).toBe(1);
    expect(model.maxLength).toBe(512);
    const named = await CrossEncoder.load(BUNDLED_MODEL, { device: 'cpu' });
    try {
      expect(named.modelDir).toBe(bundledModelDir());
      expect(await named.predict([sample[0].query, sample[0].document])).toBeCloseTo(scores[0], 5);
    } finally {
      await named.dispose();
    }
  });

  test('Tokenizer.fromModelDir and loadFromModelDir take its name too', async () => {
    const byDir = Tokenizer.fromModelDir(bundledModelDir());
    const expected = byDir.encode('What is CYP1A2?', 'A P450 enzyme.');
    expect(expected.tokens.slice(0, 3)).toEqual(['[CLS]', 'what', 'is']);
    for (const tok of [Tokenizer.fromModelDir(BUNDLED_MODEL), await Tokenizer.loadFromModelDir(BUNDLED_MODEL)]) {
      expect(Array.from(tok.encode('What is CYP1A2?', 'A P450 enzyme.').ids)).toEqual(Array.from(expected.ids));
    }
  });

  test('a directory of that name in the working directory comes first, as sentence-transformers resolves names', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tce-bundled-'));
    fs.mkdirSync(path.join(cwd, BUNDLED_MODEL));
    try {
      const r = runChild(`await pkg.CrossEncoder.load(${JSON.stringify(BUNDLED_MODEL)}, { device: 'cpu' });`, {}, cwd);
      expect(r.report?.thrown?.code).toBe('TCE_MODEL_DIR');
      expect(r.report.thrown.message).toContain(path.join(fs.realpathSync(cwd), BUNDLED_MODEL));
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });

  test('the clone finds it through the npm workspace link, as an install finds the package', () => {
    const link = path.join(repoRoot, 'node_modules', ...BUNDLED_MODEL_PACKAGE.split('/'));
    expect(fs.realpathSync(link)).toBe(path.join(repoRoot, 'models', BUNDLED_MODEL));
    const manifest = JSON.parse(fs.readFileSync(path.join(bundledModelDir(), 'package.json'), 'utf8'));
    expect(manifest.name).toBe(BUNDLED_MODEL_PACKAGE);
    // The main package declares it as an optional peer (never installed with it: 67 MB).
    const main = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    expect(main.peerDependenciesMeta[BUNDLED_MODEL_PACKAGE]).toEqual({ optional: true });
    expect(main.dependencies[BUNDLED_MODEL_PACKAGE]).toBeUndefined();
    expect(main.peerDependencies[BUNDLED_MODEL_PACKAGE]).toBe(`^${manifest.version}`);
  });

  test('it tells gold BioASQ snippets from other questions\' snippets (a random model scores AUC ~0.5)', () => {
    // BioASQ is evaluation data only: the model never trained on it.
    expect(auc(scores, sample.map((p) => p.label))).toBeGreaterThan(0.85);
  });

  test('on the demo query, the PubMed abstract on CYP1A2 and caffeine metabolism ranks first', async () => {
    const ranked = await model.rank(seed.query, seed.documents.map((d) => d.text));
    expect(seed.documents[ranked[0].corpusId].pmid).toBe('10584979');
    // Abstracts that share no topic with the query (opioids and blood pressure, tumour hyperthermia) rank in the bottom half.
    for (const pmid of ['227508', '2054792']) {
      const position = ranked.findIndex((r) => seed.documents[r.corpusId].pmid === pmid);
      expect(position).toBeGreaterThanOrEqual(seed.documents.length / 2);
    }
  });

  test('without the model package, load() and its name say which npm command installs it; a missing directory says how one is made', () => {
    // The compiled package alone, away from this repository's node_modules and models/.
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'tce-no-model-'));
    fs.cpSync(path.join(repoRoot, 'dist'), path.join(bare, 'dist'), { recursive: true });
    const entry = path.join(bare, 'dist', 'index.js');
    const load = (arg: string) => spawnSync(process.execPath, ['-e', `
      require(${JSON.stringify(entry)}).CrossEncoder.load(${arg})
        .then(() => console.log('loaded'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`],
    { cwd: bare, encoding: 'utf8' });
    try {
      for (const arg of ['', `'${BUNDLED_MODEL}'`, "{ device: 'cpu' }"]) {
        const result = JSON.parse(load(arg).stdout);
        expect(result.code).toBe('TCE_MODEL_DIR');
        expect(result.message).toContain(`npm install ${BUNDLED_MODEL_PACKAGE}`);
      }
      const missing = JSON.parse(load("'./my-model'").stdout);
      expect(missing.code).toBe('TCE_MODEL_DIR');
      expect(missing.message).toContain(`Model directory ${path.join(fs.realpathSync(bare), 'my-model')} does not exist`);
      expect(missing.message).toContain('npx torch-cross-encoder export <hub id or local save> ./my-model');
    } finally {
      fs.rmSync(bare, { recursive: true, force: true });
    }
  });

  const stReason = stSkipReason('st6');
  test.skipIf(stReason)(`sentence-transformers scores the same weights the same${stReason ? ` (skipped: ${stReason})` : ''}`, () => {
    // model.pt's weights, rebuilt as a CrossEncoder save (scripts/st-from-export.py).
    const st = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tce-bundled-st-')), 'st');
    const rebuilt = spawnSync(projectPython('st6')!, [path.join(repoRoot, 'scripts', 'st-from-export.py'), bundledModelDir(), st], { encoding: 'utf8' });
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    try {
      const pairs = sample.map((p) => [p.query, p.document]);
      const reference = stReference('st6', [{ model: st, kind: 'predict', pairs }]);
      const theirs = reference.results[0].scores as number[];
      expect(theirs).toHaveLength(scores.length);
      let worst = 0;
      theirs.forEach((s, i) => { worst = Math.max(worst, Math.abs(s - scores[i])); });
      expect(worst).toBeLessThanOrEqual(FP32_BOUND);
    } finally {
      fs.rmSync(path.dirname(st), { recursive: true, force: true });
    }
  });
});
