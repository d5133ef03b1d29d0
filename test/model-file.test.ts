// The model file as the core reads it (libtorch 1.13 project): zip entries, stored or deflated,
// checked against their CRCs at load (TCE_MODEL_FILE), config.json's max_position_embeddings
// against the position table and against the least a pair needs, the inputs fed as the metadata
// names them (a two-input graph), a .pt2 refused by a core without AOTInductor with the libtorch
// it needs, and error texts kept to short printable excerpts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import {
  bioasqPairs, copyModelDir, damageModelFile, fakePt2, fixtureModel, modelTestsSkipReason, referenceLogits, torchPython,
} from './helpers/fixture-model';

const reason = modelTestsSkipReason();
const made: string[] = [];

function copy(dir: string, prefix: string): string {
  const out = copyModelDir(dir, prefix);
  made.push(out);
  return out;
}

/** Rewrites model.pt's extra/metadata.json (zip entries rewritten with their CRCs). */
function editMetadata(modelDir: string, edit: string): void {
  const code = `
import json, sys, zipfile, shutil
path = sys.argv[1]
items = []
with zipfile.ZipFile(path) as z:
    for i in z.infolist():
        data = z.read(i.filename)
        if i.filename.endswith("/extra/metadata.json"):
            m = json.loads(data)
            ${edit}
            data = json.dumps(m).encode()
        items.append((i.filename, data))
with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
    for name, data in items:
        z.writestr(name, data)
`;
  const result = spawnSync(torchPython()!, ['-c', code, path.join(modelDir, 'model.pt')], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
}

/** What python's zipfile says of `file`: the compression of the entry ending with `suffix`, and the first entry testzip() finds bad. */
function zipReport(file: string, suffix: string): { method: number; bad: string | null } {
  const code = 'import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\n' +
    'info = next(i for i in z.infolist() if i.filename.endswith(sys.argv[2]))\n' +
    'print(json.dumps({"method": info.compress_type, "bad": z.testzip()}))';
  const r = spawnSync(torchPython()!, ['-c', code, file, suffix], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`zipfile: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe.skipIf(reason)('model files (libtorch 1.13 core)', () => {
  let base: string;
  beforeAll(() => {
    base = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
  });
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a weight entry that fails its CRC is refused at load (TCE_MODEL_FILE), not scored', async () => {
    const dir = copy(base, 'crc');
    damageModelFile(path.join(dir, 'model.pt'), { entry: '/data/0' });
    const error = await CrossEncoder.load(dir, { device: 'cpu' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TCE_MODEL_FILE' });
    expect((error as Error).message).toMatch(/model\.pt is damaged: the zip entry \S+\/data\/0 fails its CRC check/);
  });

  test('a flipped byte inside a deflated entry (a debug_pkl, as PyTorch compresses them) is TCE_MODEL_FILE, as zipfile finds it', async () => {
    const dir = copy(base, 'crc-deflated');
    const file = path.join(dir, 'model.pt');
    const entry = '/code/__torch__.py.debug_pkl';
    // The entry is deflated in the fixture: the check inflates it to compute the CRC.
    expect(zipReport(file, entry)).toEqual({ method: 8, bad: null });
    damageModelFile(file, { entry });
    // Python's zipfile, the reference here, finds the same entry bad.
    expect(zipReport(file, entry).bad).toMatch(/\/code\/__torch__\.py\.debug_pkl$/);
    const error = await CrossEncoder.load(dir, { device: 'cpu' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TCE_MODEL_FILE' });
    expect((error as Error).message).toMatch(/model\.pt is damaged: the zip entry \S+\/code\/__torch__\.py\.debug_pkl fails its CRC check/);
  });

  test('max_position_embeddings or a maxLength that leaves no room for one query and one document token is refused', async () => {
    // BERT adds 3 special tokens to a pair ([CLS] q [SEP] d [SEP]): 5 is the least that holds a pair.
    const dir = copy(base, 'positions-3');
    const configFile = path.join(dir, 'config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    fs.writeFileSync(configFile, JSON.stringify({ ...config, max_position_embeddings: 3 }));
    await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({
      code: 'TCE_MODEL_DIR',
      message: expect.stringMatching(/config\.json's max_position_embeddings is 3, too short for a pair: a pair needs 5 tokens: its 3 special tokens, and at least one query and one document token/),
    });
    for (const maxLength of [3, 4]) {
      await expect(CrossEncoder.load(base, { device: 'cpu', maxLength })).rejects.toMatchObject({
        code: 'TCE_INVALID_OPTION', message: expect.stringMatching(new RegExp(`maxLength ${maxLength} leaves no room for a query and a document: a pair needs 5 tokens`)),
      });
    }
    const model = await CrossEncoder.load(base, { device: 'cpu', maxLength: 5 });
    try {
      expect(model.maxLength).toBe(5);
      // Two pairs that differ only past their first query and document token score the same; pairs that differ in those do not.
      const scores = (await model.predict([['insulin levels', 'glucose uptake'], ['insulin other', 'glucose words'], ['cancer', 'tumour']])) as Float32Array;
      expect(Math.abs(scores[0] - scores[1])).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(scores[0] - scores[2])).toBeGreaterThan(1e-6);
    } finally {
      await model.dispose();
    }
  });

  test('a truncated model.pt is TCE_MODEL_FILE', async () => {
    const dir = copy(base, 'truncated');
    damageModelFile(path.join(dir, 'model.pt'), 'truncate');
    await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({ code: 'TCE_MODEL_FILE', message: expect.stringMatching(/is damaged/) });
  });

  test('zip64 end records whose directory offset + size wraps past 2**64 are TCE_MODEL_FILE, not an allocation', async () => {
    const dir = copy(base, 'zip64-wrap');
    damageModelFile(path.join(dir, 'model.pt'), 'zip64-wrap');
    const error = await CrossEncoder.load(dir, { device: 'cpu' }).catch((e: unknown) => e);
    // A sum that wraps passes a naive bounds check and asks for a 2**64-byte directory, which
    // fails as a length_error / bad_alloc (TCE_MODEL_LOAD_FAILED) instead of naming the damage.
    expect(error).toMatchObject({ code: 'TCE_MODEL_FILE' });
    expect((error as Error).message).toMatch(/model\.pt is damaged: its zip directory lies past the end of the file/);
  });

  test("config.json's max_position_embeddings above the model's position table is refused at load", async () => {
    const dir = copy(base, 'positions');
    const configFile = path.join(dir, 'config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    const rows = config.max_position_embeddings as number;
    fs.writeFileSync(configFile, JSON.stringify({ ...config, max_position_embeddings: rows * 2 }));
    await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({
      code: 'TCE_MODEL_FILE',
      message: expect.stringContaining(`max_position_embeddings is ${rows * 2}, but model.pt's position table has ${rows} rows`),
    });
    // At the table's size it loads.
    fs.writeFileSync(configFile, JSON.stringify(config));
    const model = await CrossEncoder.load(dir, { device: 'cpu' });
    await model.dispose();
  });

  test('a graph of (input_ids, attention_mask) is fed those two, as its metadata names them', async () => {
    const dir = fixtureModel('tiny-two-inputs', { numLabels: 1, vocab: 'biomedbert', inputs: 'input_ids,attention_mask' });
    const pairs = bioasqPairs(12);
    const model = await CrossEncoder.load(dir, { device: 'cpu', activation: 'identity' });
    try {
      const scores = (await model.predict(pairs)) as Float32Array;
      const expected = await referenceLogits(dir, pairs, model.maxLength);
      expect(scores.length).toBe(pairs.length);
      for (let i = 0; i < pairs.length; i++) expect(Math.abs(scores[i] - expected[i][0])).toBeLessThan(1e-4);
    } finally {
      await model.dispose();
    }
  });

  test('metadata naming inputs the graph does not take is refused at load, naming both', async () => {
    const dir = copy(fixtureModel('tiny-two-inputs', { numLabels: 1, vocab: 'biomedbert', inputs: 'input_ids,attention_mask' }), 'three-named');
    editMetadata(dir, 'm["input_names"] = ["input_ids", "attention_mask", "token_type_ids"]');
    await expect(CrossEncoder.load(dir, { device: 'cpu' })).rejects.toMatchObject({
      code: 'TCE_MODEL_LOAD_FAILED',
      message: expect.stringMatching(/forward takes 2 inputs, but its metadata names 3 \(input_ids, attention_mask, token_type_ids\)/),
    });
  });

  test("an unknown input name is refused, quoted only as a short printable excerpt of the file's text", async () => {
    const dir = copy(base, 'bad-name');
    editMetadata(dir, 'm["input_names"] = ["input_ids", "attention_mask", "\\u0007" + "x" * 5000]');
    const error = await CrossEncoder.load(dir, { device: 'cpu' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TCE_MODEL_LOAD_FAILED' });
    const message = (error as Error).message;
    // The name is shown cut to 40 printable characters (the \u0007 escape as written, not decoded).
    expect(message).toMatch(/names an input this package cannot feed: "[ -~]{1,40}" \(the inputs are/);
    expect(message).not.toMatch('x'.repeat(41));
    // eslint-disable-next-line no-control-regex
    expect(message).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
  });

  test('a .pt2 on a core without AOTInductor is refused with the libtorch it needs and the export flag for this one', async () => {
    const dir = copy(base, 'pt2-only');
    fs.rmSync(path.join(dir, 'model.pt'));
    fakePt2(path.join(dir, 'model.pt2'), 'cpu');
    const error = await CrossEncoder.load(dir, { device: 'cpu' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TCE_MODEL_LOAD_FAILED' });
    expect((error as Error).message).toMatch(/needs a torch core built for libtorch 2\.6 or later; this core was built for libtorch 1\.13/);
    expect((error as Error).message).toMatch(/--format torchscript --target-libtorch 1\.13/);
  });

  test('beside a model.pt, a .pt2 is left alone by a core that cannot run it', async () => {
    const dir = copy(base, 'both');
    fakePt2(path.join(dir, 'model.pt2'), 'cpu');
    const model = await CrossEncoder.load(dir, { device: 'cpu' });
    try {
      expect(typeof (await model.predict(['what is p53', 'a tumour suppressor']))).toBe('number');
    } finally {
      await model.dispose();
    }
  });
});
