/**
 * CrossEncoder.load refuses a tokenizer that can give an id or a type id the model has no
 * embedding row for (config.json vocab_size / type_vocab_size): on CUDA such an index is a
 * device-side assert that breaks every model in the process, so it must never reach the model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { checkTokenizerFitsModel, type ModelDirInfo } from '../lib/model-dir';
import { copyModelDir, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { bertTokenizerJson, readVocab } from './helpers/hf-reference';

const skip = modelTestsSkipReason();
const copies: string[] = [];
let base: string;
let vocab: string[];

beforeAll(() => {
  if (skip) return;
  base = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
  vocab = readVocab(path.join(base, 'vocab.txt'));
});
afterAll(() => {
  for (const dir of copies) fs.rmSync(dir, { recursive: true, force: true });
});

type Json = ReturnType<typeof bertTokenizerJson>;

/** A copy of the fixture model with this tokenizer.json (and config.json edits). */
function withTokenizer(edit: (json: Json) => void, config: Record<string, unknown> = {}): string {
  const dir = copyModelDir(base, 'tok-check');
  copies.push(dir);
  const json = bertTokenizerJson(vocab);
  edit(json);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, 'utf8')), ...config }));
  return dir;
}

async function loadError(dir: string): Promise<{ code?: string; message: string }> {
  try {
    const model = await CrossEncoder.load(dir);
    await model.dispose();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error(`${dir} loaded`);
}

describe.skipIf(skip !== null)(`tokenizer ids against the model's tables${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test('the fixture has vocab_size = the vocabulary and type_vocab_size 2 (what the cases below rely on)', () => {
    const config = JSON.parse(fs.readFileSync(path.join(base, 'config.json'), 'utf8'));
    expect(config.vocab_size).toBe(vocab.length);
    expect(config.type_vocab_size).toBe(2);
  });

  test('an added token with id >= vocab_size is refused, naming the token and vocab_size', async () => {
    const dir = withTokenizer((json) => {
      json.added_tokens.push({ id: vocab.length, content: '<extra>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    });
    const error = await loadError(dir);
    expect(error.code).toBe('TCE_TOKENIZER_FILE');
    expect(error.message).toContain('"<extra>"');
    expect(error.message).toContain(`id ${vocab.length}`);
    expect(error.message).toContain(`vocab_size ${vocab.length}`);
  });

  test('a template special id past vocab_size is refused', async () => {
    const dir = withTokenizer((json) => {
      json.post_processor.special_tokens['[SEP]'].ids = [vocab.length + 5];
    });
    const error = await loadError(dir);
    expect(error.code).toBe('TCE_TOKENIZER_FILE');
    expect(error.message).toContain(`id ${vocab.length + 5}`);
    expect(error.message).toContain('vocab_size');
  });

  test('a pair template type_id 2 with type_vocab_size 2 is refused, naming type_vocab_size', async () => {
    const dir = withTokenizer((json) => {
      json.post_processor.pair[3] = { Sequence: { id: 'B', type_id: 2 } };
    });
    const error = await loadError(dir);
    expect(error.code).toBe('TCE_TOKENIZER_FILE');
    expect(error.message).toContain('type id 2');
    expect(error.message).toContain('type_vocab_size 2');
  });

  test('the same template loads when config.json has room for type id 2 (the check reads config.json)', async () => {
    // Only the load is checked: the model file's own table still has 2 rows, so it is not run.
    const dir = withTokenizer((json) => {
      json.post_processor.pair[3] = { Sequence: { id: 'B', type_id: 2 } };
    }, { type_vocab_size: 3 });
    const model = await CrossEncoder.load(dir);
    expect(model.tokenizer.encode('a', 'b').typeIds).toContain(2);
    await model.dispose();
  });

  test('the unchanged tokenizer.json loads and scores', async () => {
    const dir = withTokenizer(() => {});
    const model = await CrossEncoder.load(dir);
    expect(Number.isFinite(await model.predict(['what is a cell', 'a cell is a unit']))).toBe(true);
    await model.dispose();
  });
});

describe('checkTokenizerFitsModel', () => {
  const info = (over: Partial<ModelDirInfo>): ModelDirInfo =>
    ({ dir: '/m', vocabSize: 10, typeVocabSize: 2, takesTokenTypeIds: true, ...over }) as ModelDirInfo;
  const tok = (maxId: number, maxTypeId: number) => ({ maxId, maxTypeId, tokens: (ids: Int32Array) => Array.from(ids, (i) => `t${i}`) });

  test('ids up to vocab_size - 1 and type ids up to type_vocab_size - 1 pass', () => {
    expect(() => checkTokenizerFitsModel(info({}), tok(9, 1))).not.toThrow();
  });
  test('the largest id at vocab_size is refused', () => {
    expect(() => checkTokenizerFitsModel(info({}), tok(10, 1))).toThrow(expect.objectContaining({ code: 'TCE_TOKENIZER_FILE', message: expect.stringContaining('"t10" (id 10)') }));
  });
  test('absent sizes are not checked', () => {
    expect(() => checkTokenizerFitsModel(info({ vocabSize: null, typeVocabSize: null }), tok(1e6, 7))).not.toThrow();
  });
  test('type ids are not checked for a model without token_type_ids (DeBERTa-v3, ModernBERT exports)', () => {
    expect(() => checkTokenizerFitsModel(info({ typeVocabSize: 0, takesTokenTypeIds: false }), tok(9, 1))).not.toThrow();
    expect(() => checkTokenizerFitsModel(info({ typeVocabSize: 0 }), tok(9, 1))).toThrow(expect.objectContaining({ code: 'TCE_TOKENIZER_FILE' }));
  });
});
