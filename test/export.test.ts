// scripts/export.py for the libtorch that will run the model (libtorch 1.13 project): with
// --target-libtorch 1.13, transformers 5's model is exported with eager attention and loads and
// scores in Debian's libtorch 1.13 as sentence-transformers 6 does; an SDPA export fails to load
// there with an error that names the export flags that fix it; the flags that cannot work together
// are refused before anything is exported; the longest sequence each family records (export_arch.max_length).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { readExportMetadata } from '../lib/torchscript-archive';
import { projectPython } from '../scripts/torch-python.mjs';
import { repoRoot } from './helpers/child';
import { bioasqPairs, modelTestsSkipReason } from './helpers/fixture-model';
import { stModel, stReference, stSkipReason } from './helpers/st-reference';

/** fp32 on the CPU, another libtorch: the same arithmetic in another order. */
const FP32_BOUND = 1e-5;

const reason = stSkipReason('st6') ?? modelTestsSkipReason();
const modelsDir = path.join(repoRoot, 'test', 'fixtures', 'models');

function exportModel(source: string, out: string, flags: string[]) {
  return spawnSync(projectPython('st6')!, [path.join(repoRoot, 'scripts', 'export.py'), source, out, ...flags], { encoding: 'utf8' });
}

describe.skipIf(reason)('export.py --target-libtorch (run on libtorch 1.13)', () => {
  let seed: { st: string; tce: string };
  const made: string[] = [];
  const outDir = (prefix: string) => {
    const dir = fs.mkdtempSync(path.join(modelsDir, `${prefix}-`));
    made.push(dir);
    return dir;
  };

  beforeAll(() => {
    seed = stModel('st6', 'one', { numLabels: 1 });
  });
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('--target-libtorch 1.13: eager attention, loads in 1.13 and scores as sentence-transformers 6', async () => {
    const out = outDir('target-113');
    const result = exportModel(seed.st, out, ['--target-libtorch', '1.13']);
    expect(result.status, result.stderr).toBe(0);
    expect(readExportMetadata(path.join(out, 'model.pt'))).toMatchObject({ attn_implementation: 'eager', target_libtorch: '1.13' });
    const pairs = bioasqPairs(24);
    const [reference] = stReference('st6', [{ model: seed.st, kind: 'predict', pairs }]).results;
    const model = await CrossEncoder.load(out, { device: 'cpu' });
    try {
      const scores = (await model.predict(pairs)) as Float32Array;
      const expected = reference.scores as number[];
      expect(scores.length).toBe(expected.length);
      for (let i = 0; i < expected.length; i++) expect(Math.abs(scores[i] - expected[i])).toBeLessThanOrEqual(FP32_BOUND);
    } finally {
      await model.dispose();
    }
  });

  test('an SDPA export fails to load in 1.13 with the export flags that fix it', async () => {
    // seed.tce is exported with the default (SDPA) attention by torch 2.13.
    expect(readExportMetadata(path.join(seed.tce, 'model.pt'))).toMatchObject({ attn_implementation: 'sdpa' });
    const error = await CrossEncoder.load(seed.tce, { device: 'cpu' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TCE_MODEL_LOAD_FAILED' });
    const message = (error as Error).message;
    expect(message).toMatch(/traced with SDPA attention, which libtorch 1\.13 does not have/);
    expect(message).toMatch(/npx torch-cross-encoder export SOURCE OUT -- --target-libtorch 1\.13 \(eager attention; or --attn eager\)/);
  });

  test("the longest sequence recorded per family: absolute tables end at their rows, rotary / relative at the config's positions", () => {
    // Configs built by transformers itself (no weights): the numbers are the families' own defaults
    // or the hub models' values (RoBERTa: 514 rows, padding_idx 1).
    const code = `
import json, sys
sys.path.insert(0, sys.argv[1])
import export_arch
from transformers import BertConfig, ElectraConfig, XLMRobertaConfig, ModernBertConfig, DebertaV2Config
print(json.dumps({
    "bert": export_arch.max_length(BertConfig(max_position_embeddings=512)),
    "electra": export_arch.max_length(ElectraConfig(max_position_embeddings=512)),
    "xlm-roberta": export_arch.max_length(XLMRobertaConfig(max_position_embeddings=514, pad_token_id=1)),
    "modernbert": export_arch.max_length(ModernBertConfig(max_position_embeddings=8192)),
    "deberta-v2": export_arch.max_length(DebertaV2Config(max_position_embeddings=512, relative_attention=True)),
    "check": export_arch.check_length(8192),
}))
`;
    const result = spawnSync(projectPython('st6')!, ['-c', code, path.join(repoRoot, 'scripts')], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').pop()!)).toEqual({
      bert: 512, electra: 512, 'xlm-roberta': 512, modernbert: 8192, 'deberta-v2': 512, check: 512,
    });
  });

  test('flags that cannot work together are refused before exporting', () => {
    const out = outDir('refused');
    const cases: Array<[string[], RegExp]> = [
      [['--target-libtorch', '1.13', '--attn', 'sdpa'], /--attn sdpa cannot run on libtorch 1\.13 \(SDPA needs 2\.0\+\); use --attn eager/],
      [['--format', 'pt2', '--target-libtorch', '1.13'], /a pt2 package needs libtorch 2\.6 or later to run, not 1\.13; use --format torchscript/],
      [['--precision', 'fp16'], /--precision applies to --format pt2/],
      [['--format', 'pt2', '--half-storage'], /--half-storage applies to --format torchscript only/],
    ];
    for (const [flags, expected] of cases) {
      const result = exportModel(seed.st, out, flags);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(expected);
    }
    expect(fs.readdirSync(out)).toEqual([]);
  });
});
