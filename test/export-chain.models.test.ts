// sentence-transformers 6.3 module chains through scripts/export.py and our CrossEncoder (on
// libtorch 1.13 with --target-libtorch 1.13, on torch 2.13 as exported by default): an
// ettin-style save (ModernBERT Transformer(feature-extraction) -> Pooling(cls) -> Dense(GELU) ->
// LayerNorm -> Dense -> "scores") and a 2-score variant (mean pooling, residual Dense) score as
// sentence-transformers 6.3 scores them; the export records the chain's own head and num_labels
// (the bare ModernBERT config.json beside it would say 2); a save with a module the export does
// not know is refused in one line naming that module, with nothing written.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { readExportMetadata } from '../lib/torchscript-archive';
import { repoRoot } from './helpers/child';
import { bioasqPairs, modelTestsSkipReason } from './helpers/fixture-model';
import { chainExport, chainSave, chainSkipReason, exportRefusal, maxAbsDiff, stPredict, type StPrediction } from './helpers/st-chain';

/** The bound the issue sets; fp32 on the CPU lands far inside it (the same arithmetic in another order). */
const BOUND = 1e-4;
const torch2 = process.env.TCE_TEST_LIBTORCH === 'torch-2.13';
const flags = torch2 ? [] : ['--target-libtorch', '1.13'];
const reason = chainSkipReason() ?? modelTestsSkipReason();

function pairs(): Array<[string, string]> {
  const base = bioasqPairs(16);
  // Cut documents at varied lengths (ragged batches), one past the save's max_seq_length of 256 tokens.
  return base.map(([q, d], i): [string, string] => [q, i === 3 ? `${d} ${d} ${d}` : d.slice(0, 40 + ((i * 131) % 900))]);
}

describe.skipIf(reason)(`export.py: sentence-transformers 6.3 module chains${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const input = pairs();
  const loaded: CrossEncoder[] = [];
  const scratch: string[] = [];
  let ettin: { st: string; tce: string; ref: StPrediction };
  let twoScores: { st: string; tce: string; ref: StPrediction };
  beforeAll(() => {
    const st = chainSave('ettin');
    ettin = { st, tce: chainExport(st, torch2 ? 'tce' : 'tce-113', flags), ref: stPredict(st, input) };
    const st2 = chainSave('ettin-mean');
    twoScores = { st: st2, tce: chainExport(st2, torch2 ? 'tce' : 'tce-113', flags), ref: stPredict(st2, input) };
  });
  afterAll(async () => {
    await Promise.all(loaded.map((m) => m.dispose()));
    for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('ettin-style chain: predict and rank as sentence-transformers 6.3 (sigmoid of the last Dense)', async () => {
    const model = await CrossEncoder.load(ettin.tce, { device: 'cpu' });
    loaded.push(model);
    const theirs = ettin.ref.scores as number[];
    const ours = Array.from((await model.predict(input)) as Float32Array);
    expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(BOUND);
    // Random weights still separate the pairs: the comparison is not between constants.
    expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(1e-2);

    const ranking = ettin.ref.ranking!;
    const mine = await model.rank(input[0]![0], input.map((p) => p[1]));
    expect(mine.map((r) => r.corpusId)).toEqual(ranking.map((r) => r.corpus_id));
    expect(maxAbsDiff(mine.map((r) => r.score), ranking.map((r) => r.score))).toBeLessThanOrEqual(BOUND);
  });

  test('the export records the chain: tce_head module-chain, num_labels from the last Dense, right padding', () => {
    const config = JSON.parse(fs.readFileSync(path.join(ettin.tce, 'config.json'), 'utf8')) as Record<string, unknown>;
    // The save's config.json is the bare encoder's: it knows nothing of the chain's one score.
    expect(config.architectures).toEqual(['ModernBertModel']);
    expect(readExportMetadata(path.join(ettin.tce, 'model.pt'))).toMatchObject({
      tce_head: 'module-chain', tce_num_labels: 1, num_labels: 1, tce_padding_side: 'right',
      module_chain: 'Transformer(feature-extraction) -> Pooling -> Dense -> LayerNorm -> Dense',
      attn_implementation: torch2 ? 'sdpa' : 'eager',
    });
    expect(readExportMetadata(path.join(twoScores.tce, 'model.pt'))).toMatchObject({ tce_head: 'module-chain', tce_num_labels: 2 });
  });

  test('2-score chain (mean pooling, residual Dense): both logits as sentence-transformers, and rank refused by both', async () => {
    expect(twoScores.ref.num_labels).toBe(2);
    const model = await CrossEncoder.load(twoScores.tce, { device: 'cpu' });
    loaded.push(model);
    expect(model.numLabels).toBe(2);
    const theirs = (twoScores.ref.scores as number[][]).flat();
    const rows = (await model.predict(input)) as Float32Array[];
    expect(rows.map((r) => r.length)).toEqual(input.map(() => 2));
    const ours = rows.flatMap((r) => Array.from(r));
    expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(BOUND);
    expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(1e-2);
    await expect(model.rank(input[0]![0], ['a', 'b'])).rejects.toMatchObject({
      code: 'TCE_INVALID_OPTION', message: expect.stringMatching(/only works for models with num_labels=1/) });
  });

  test('a chain with a module the export does not know is refused in one line naming it; nothing is written', () => {
    const save = chainSave('custom');
    const out = fs.mkdtempSync(path.join(repoRoot, 'test', 'fixtures', 'models', 'custom-out-'));
    scratch.push(out);
    const { status, stderr } = exportRefusal(save, out, flags);
    expect(status).not.toBe(0);
    const lines = stderr.trim().split('\n');
    expect(lines[lines.length - 1]).toMatch(/^export\.py: module 3 \(__main__\.Shift\) cannot be exported: the export reproduces only sentence-transformers' Dense, LayerNorm, LogitScore, Normalize, Pooling, Transformer$/);
    expect(fs.readdirSync(out)).toEqual([]);
  });
});
