// The package's types as a user's code meets them, in consumer projects
// (test/fixtures/ts-consumer): a strict ES module project (module NodeNext) and a CommonJS one
// with the classic "moduleResolution": "node", which ignores `exports` (typesVersions must give
// the server entry its types); each with and without @types/node in the user's own "types", the
// CommonJS one also with and without esModuleInterop (CONSUMER_VARIANTS). api-types.ts holds what must compile and, as @ts-expect-error
// lines, what must not. Also the multiLabel load option those types rest on, checked at load.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { tempDir } from './helpers/fake-libtorch';
import { fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { apiTypesSource, CONSUMER_VARIANTS, linkRepository, tsc, writeConsumer } from './fixtures/ts-consumer/project';

describe('the types in consumer projects (this clone as node_modules/torch-cross-encoder)', () => {
  const root = tempDir('ts-consumer');
  beforeAll(() => linkRepository(path.join(root, 'node_modules')));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each(CONSUMER_VARIANTS)('$name: what must compile does, what must not does not', ({ name, kind, settings }) => {
    const dir = path.join(root, name);
    writeConsumer(kind, dir, { 'api-types.ts': apiTypesSource() }, settings);
    const result = tsc(dir);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  test('the settings differ where it matters: a default import of node:http is TS1192 without esModuleInterop', () => {
    const dir = path.join(root, 'cjs-no-interop-default-import');
    writeConsumer('cjs', dir, { 'default-import.ts': "import http from 'node:http';\nexport const server = http.createServer();\n" },
      { nodeTypes: true, esModuleInterop: false });
    const result = tsc(dir);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('TS1192');
  });

  test('a case that must not compile is reported (the check can fail)', () => {
    const dir = path.join(root, 'esm-wrong');
    writeConsumer('esm', dir, {
      'wrong.ts': "import { CrossEncoder } from 'torch-cross-encoder';\n" +
        "const model = await CrossEncoder.load();\nexport const s: number = await model.predict([['q', 'd']]);\n",
    });
    const result = tsc(dir);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain("Type 'Float32Array");
    expect(result.output).toContain("is not assignable to type 'number'");
  });
});

const reason = modelTestsSkipReason();
describe.skipIf(reason)(`the multiLabel load option${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let single: string;
  let multi: string;
  beforeAll(() => {
    single = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    multi = fixtureModel('tiny-3', { numLabels: 3, vocab: 'bert_base_uncased', legacyActivationKey: true });
  });

  test('is checked against config.json num_labels at load', async () => {
    await expect(CrossEncoder.load(multi, { device: 'cpu', multiLabel: false })).rejects.toMatchObject({
      code: 'TCE_INVALID_OPTION', message: expect.stringContaining('has 3 labels'),
    });
    await expect(CrossEncoder.load(single, { device: 'cpu', multiLabel: true })).rejects.toMatchObject({
      code: 'TCE_INVALID_OPTION', message: expect.stringContaining('has 1 label'),
    });
    await expect(CrossEncoder.load(single, { device: 'cpu', multiLabel: 'yes' as unknown as boolean })).rejects.toMatchObject({
      code: 'TCE_INVALID_OPTION', message: expect.stringContaining('multiLabel must be true or false'),
    });
  });

  test('when it agrees, predict returns what its types say', async () => {
    const rows = await CrossEncoder.load(multi, { device: 'cpu', multiLabel: true });
    const one = await CrossEncoder.load(single, { device: 'cpu', multiLabel: false });
    try {
      const row: Float32Array = await rows.predict(['q', 'd']);
      const list: Float32Array[] = await rows.predict([['q', 'd'], ['q2', 'd2']]);
      expect(row).toBeInstanceOf(Float32Array);
      expect(row).toHaveLength(3);
      expect(list.map((r) => r.length)).toEqual([3, 3]);
      const score: number = await one.predict(['q', 'd']);
      expect(typeof score).toBe('number');
      expect(await one.predict([['q', 'd']])).toBeInstanceOf(Float32Array);
    } finally {
      await Promise.all([rows.dispose(), one.dispose()]);
    }
  });
});
