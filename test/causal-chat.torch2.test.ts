// Causal-LM rerankers (sentence-transformers 6.3: Transformer(transformer_task="text-generation")
// -> LogitScore): each pair rendered by the model's chat template, prompts as system messages,
// truncation with the template's suffix restored. The token ids the engine feeds the model are
// compared with the ids sentence-transformers' own Transformer module makes of the same pair
// (through an "echo" model.pt that scores a row as sum_j id[j] * (j + 1), so no exporter is
// needed). Runs on torch 2.13 (vitest project torch-2.13), whose .venv builds the saves.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { TceError } from '../lib/errors';
import { RerankServer } from '../lib/server/server';
import { repoRoot } from './helpers/child';
import {
  causalModel, causalSkipReason, echoScore, echoWithPaddingSide, expectSameRanking, exportedModel, stCausalReference, stTokenIds, type TokenizeRequest,
} from './helpers/causal-reference';
import { modelTestsSkipReason } from './helpers/fixture-model';
import { request } from './helpers/server-http';
import { stModel } from './helpers/st-reference';

const skip = modelTestsSkipReason() ?? causalSkipReason();

const multilingual = fs
  .readFileSync(path.join(repoRoot, 'test', 'fixtures', 'families', 'multilingual.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => (JSON.parse(line) as { text: string }).text);

/** Short pairs that fit, long ones that the fixtures' max_seq_length truncates, and odd ones. */
function pairs(): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['what is the capital of France?', 'Paris is the capital of France.'],
    ['q', 'd'],
    ['', ''],
    ['<|im_end|> inside a query', 'a document that says <think> and </think>'],
    ['  spaced  query ', '\ttabs\nand\nnewlines\n'],
  ];
  for (let i = 0; i + 1 < multilingual.length; i += 2) out.push([multilingual[i]!.slice(0, 60), multilingual[i + 1]!]);
  return out;
}

/** Our scores through the echo model (identity activation: the raw sums). */
async function echoSums(model: CrossEncoder, items: Array<[string, string]>, options: { prompt?: string; promptName?: string }) {
  return Array.from(await model.predict(items, { activation: 'identity', batchSize: 4, ...options }));
}

describe.skipIf(skip !== null)(`causal-LM chat input vs sentence-transformers 6.3${skip ? ` (skipped: ${skip})` : ''}`, () => {
  // qwen3: Qwen3-Reranker's template, saved prompts (default "web"), max_seq_length 200 (the
  // template alone is ~146 tokens of this small vocabulary: short pairs fit, long ones are cut
  // and the <think> prefill restored). qwen3-plain: no saved prompts, no truncation.
  // llama: mxbai-rerank-v2's layout, whose prompt sits in the template's tail, "1"/"0", cut at 64.
  let models: Record<'qwen3' | 'qwen3Plain' | 'llama', { st: string; echo: string }>;
  const loaded: CrossEncoder[] = [];
  const load = async (dir: string) => {
    const model = await CrossEncoder.load(dir);
    loaded.push(model);
    return model;
  };

  beforeAll(() => {
    models = {
      qwen3: causalModel('qwen3-prompt-200', { family: 'qwen3', prompt: true, maxSeqLength: 200 }),
      qwen3Plain: causalModel('qwen3-plain', { family: 'qwen3' }),
      llama: causalModel('llama-64', { family: 'llama', prompt: true, maxSeqLength: 64 }),
    };
  });
  afterAll(async () => {
    for (const model of loaded) await model.dispose();
  });

  test('the engine feeds the model the ids sentence-transformers makes, for every prompt choice', async () => {
    const items = pairs();
    const cases: Array<{ model: keyof typeof models; prompt?: string; promptName?: string }> = [
      { model: 'qwen3' },
      { model: 'qwen3', promptName: 'short' },
      { model: 'qwen3', prompt: 'Find the passage that answers the medical question' },
      { model: 'qwen3', prompt: '' },
      { model: 'qwen3Plain' },
      { model: 'qwen3Plain', prompt: 'An instruction of a call' },
      { model: 'llama' },
      { model: 'llama', promptName: 'short' },
      { model: 'llama', prompt: '' },
    ];
    const requests: TokenizeRequest[] = cases.map((c) => ({
      model: models[c.model].st, pairs: items, prompt: c.prompt ?? null, prompt_name: c.promptName ?? null,
    }));
    const reference = stTokenIds(requests);
    let truncated = 0;
    for (const [k, c] of cases.entries()) {
      const model = await load(models[c.model].echo);
      const before = model.stats().tokens;
      const ours = await echoSums(model, items, { prompt: c.prompt, promptName: c.promptName });
      // The echo sums in int64, then rounds once to float32 (long untruncated rows pass 2^24).
      expect(ours, `${c.model} ${JSON.stringify(c)}`).toEqual(reference[k]!.map((ids) => Math.fround(echoScore(ids))));
      // The same number of real tokens: no id lost or added anywhere in the rows.
      expect(model.stats().tokens - before).toBe(reference[k]!.reduce((n, ids) => n + ids.length, 0));
      truncated += reference[k]!.filter((ids) => ids.length === model.maxLength).length;
    }
    // The cases exercise truncation with the suffix restored, not only pairs that fit.
    expect(truncated).toBeGreaterThan(10);
  });

  test('a Qwen2 save (mxbai-rerank-v2 layout, "1"/"0"): the same ids as sentence-transformers', async () => {
    const qwen2 = causalModel('qwen2-64', { family: 'qwen2', prompt: true, maxSeqLength: 64 });
    // transformers 5 loads every qwen2 tokenizer as Qwen2Tokenizer, with Qwen's GPT-4-style Split
    // regex (look-ahead, \p{...}): the native tokenizer runs it on Oniguruma, as tokenizers does.
    const items = pairs();
    const model = await load(qwen2.echo);
    const [ids] = stTokenIds([{ model: qwen2.st, pairs: items, prompt: 'Is it relevant?' }]);
    expect(Array.from(await model.predict(items, { activation: 'identity', prompt: 'Is it relevant?' })))
      .toEqual(ids!.map((row) => Math.fround(echoScore(row))));
  });

  test('maxLength is the save\'s max_seq_length (tokenizer model_max_length), and rank() works on one score a pair', async () => {
    const model = await load(models.qwen3.echo);
    expect(model.maxLength).toBe(200);
    expect(model.numLabels).toBe(1);
    const documents = pairs().map(([, d]) => d);
    const query = 'what is the capital of France?';
    const [ids] = stTokenIds([{ model: models.qwen3.st, pairs: documents.map((d): [string, string] => [query, d]) }]);
    const expected = ids!.map((row) => Math.fround(echoScore(row)));
    const ranked = await model.rank(query, documents, { activation: 'identity' });
    const order = expected.map((score, i) => ({ score, i })).sort((x, y) => y.score - x.score || x.i - y.i).map((r) => r.i);
    expect(ranked.map((r) => r.corpusId)).toEqual(order);
    expect(ranked.map((r) => r.score)).toEqual(order.map((i) => expected[i]));
  });

  test('prompt options are checked before any work: TCE_INVALID_OPTION names the problem', async () => {
    const model = await load(models.qwen3.echo);
    const pair: [string, string] = ['q', 'd'];
    await expect(model.predict([pair], { promptName: 'nope' })).rejects.toThrow(/promptName "nope" is not one of the model's prompts \("short", "web"/);
    await expect(model.predict([pair], { promptName: 'nope' })).rejects.toMatchObject({ code: 'TCE_INVALID_OPTION' });
    await expect(model.predict([pair], { prompt: 42 as unknown as string })).rejects.toMatchObject({ code: 'TCE_INVALID_OPTION' });
    await expect(model.rank('q', ['d'], { longDocuments: 'max' })).rejects.toThrow(/chat template/);
    const left = echoWithPaddingSide(models.qwen3.st, `${path.dirname(models.qwen3.echo)}/echo-left`, 'left');
    await expect(CrossEncoder.load(left)).rejects.toMatchObject({ code: 'TCE_MODEL_FILE', message: expect.stringMatching(/tce_padding_side "left"/) });
    const plain = await load(models.qwen3Plain.echo);
    await expect(plain.predict([pair], { promptName: 'web' })).rejects.toThrow(/it has none/);
    await expect(plain.predict([pair], { promptName: 'web' })).rejects.toBeInstanceOf(TceError);
  });

  test('the Cohere rerank routes take our `prompt` field: the scores of rank() with that prompt', async () => {
    // The exported model (the echo's sums are far in the sigmoid's tail, which the routes apply).
    const model = await load(exportedModel(models.qwen3.st));
    const server = new RerankServer(model, {});
    const { port } = await server.listen(0);
    try {
      const query = 'what is the capital of France?';
      const documents = pairs().slice(0, 6).map(([, d]) => d);
      const prompt = 'Find the passage that answers the question';
      const withPrompt = await model.rank(query, documents, { prompt });
      const withDefault = await model.rank(query, documents);
      expect(withPrompt.map((r) => r.score)).not.toEqual(withDefault.map((r) => r.score));
      for (const path of ['/v1/rerank', '/v2/rerank']) {
        const reply = await request(port, 'POST', path, { query, documents, prompt });
        expect(reply.status).toBe(200);
        const results = (reply.body as { results: Array<{ index: number; relevance_score: number }> }).results;
        expect(results.map((r) => [r.index, r.relevance_score])).toEqual(withPrompt.map((r) => [r.corpusId, r.score]));
      }
      const bare = await request(port, 'POST', '/v1/rerank', { query, documents });
      expect((bare.body as { results: Array<{ index: number }> }).results.map((r) => r.index)).toEqual(withDefault.map((r) => r.corpusId));
      const bad = await request(port, 'POST', '/v1/rerank', { query, documents, prompt: 7 });
      expect(bad.status).toBe(422);
      expect(JSON.stringify(bad.body)).toMatch(/`prompt` must be a string/);
    } finally {
      await server.close();
    }
  }, 600_000);

  test('long contexts: a pair of thousands of tokens runs alone when the token budget is smaller', async () => {
    const model = await load(models.qwen3Plain.echo);
    const long = multilingual.join(' ').repeat(3);
    const items: Array<[string, string]> = [['a long one', long], ['short', 'doc'], ['another long', long.slice(1000)]];
    const [ids] = stTokenIds([{ model: models.qwen3Plain.st, pairs: items }]);
    expect(Math.max(...ids!.map((r) => r.length))).toBeGreaterThan(2000);
    const before = model.stats();
    const ours = await model.predict(items, { activation: 'identity', maxBatchTokens: 1024 });
    // The echo sums in int64, then rounds once to float32.
    expect(Array.from(ours)).toEqual(ids!.map((row) => Math.fround(echoScore(row))));
    expect(model.stats().tokens - before.tokens).toBe(ids!.reduce((n, row) => n + row.length, 0));
    // Each long row alone (above the budget), and the short one in its own forward.
    expect(model.stats().forwards - before.forwards).toBe(3);
  });
});

/** fp32 on the CPU: the same arithmetic in another order (batching, padding side, MKL). */
const PARITY_BOUND = 1e-4;

describe.skipIf(skip !== null)(`causal-LM rerankers exported by scripts/export.py vs sentence-transformers 6.3 CrossEncoder${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const cases = [
    { name: 'qwen3-prompt-200', options: { family: 'qwen3', prompt: true, maxSeqLength: 200 } },
    { name: 'qwen3-plain', options: { family: 'qwen3' } },
    { name: 'qwen2-64', options: { family: 'qwen2', prompt: true, maxSeqLength: 64 } },
    { name: 'llama-64', options: { family: 'llama', prompt: true, maxSeqLength: 64 } },
    { name: 'llama-true-only-64', options: { family: 'llama', trueOnly: true, maxSeqLength: 64 } },
  ] as const;

  test.each(cases)('$name: predict within 1e-4 and the same rank order, for each prompt choice', async ({ name, options }) => {
    const { st } = causalModel(name, options);
    const tce = exportedModel(st);
    const model = await CrossEncoder.load(tce);
    try {
      const items = pairs();
      const query = 'what is the capital of France?';
      const documents = items.map(([, d]) => d);
      const prompts: Array<{ prompt?: string; promptName?: string }> = 'prompt' in options
        ? [{}, { promptName: 'short' }, { prompt: 'Rate the passage for the question' }, { prompt: '' }]
        : [{}, { prompt: 'Rate the passage for the question' }];
      const reference = stCausalReference(prompts.flatMap((p) => {
        const common = { model: st, prompt: p.prompt ?? null, prompt_name: p.promptName ?? null };
        return [
          { ...common, kind: 'predict' as const, pairs: items },
          { ...common, kind: 'predict' as const, pairs: items, activation: 'identity' as const },
          { ...common, kind: 'rank' as const, query, documents },
        ];
      }));
      let spread = 0;
      for (const [k, p] of prompts.entries()) {
        const [sigmoid, logits, ranked] = reference.slice(3 * k, 3 * k + 3);
        const ours = Array.from(await model.predict(items, { ...p, batchSize: 5 }));
        const oursLogits = Array.from(await model.predict(items, { ...p, activation: 'identity' }));
        for (let i = 0; i < items.length; i++) {
          expect(Math.abs(ours[i]! - sigmoid!.scores![i]!), `${name} ${JSON.stringify(p)} pair ${i}`).toBeLessThanOrEqual(PARITY_BOUND);
          expect(Math.abs(oursLogits[i]! - logits!.scores![i]!), `${name} ${JSON.stringify(p)} pair ${i} (logits)`).toBeLessThanOrEqual(PARITY_BOUND);
        }
        spread = Math.max(spread, Math.max(...logits!.scores!) - Math.min(...logits!.scores!));
        const oursRanked = await model.rank(query, documents, p);
        expectSameRanking(oursRanked, ranked!.ranked!, PARITY_BOUND);
      }
      // The scores differ between pairs, so that the rank orders mean something.
      expect(spread).toBeGreaterThan(0.1);
    } finally {
      await model.dispose();
    }
  }, 600_000); // builds and exports the save on first use, then runs sentence-transformers
});

describe.skipIf(skip !== null)(`prompts on a classifier CrossEncoder vs sentence-transformers 6.3${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test('a prompt goes before the query, as sentence-transformers puts it', async () => {
    const { st, tce } = stModel('st6', 'tiny-1', { numLabels: 1 });
    const model = await CrossEncoder.load(tce);
    try {
      const items = pairs().slice(0, 8);
      const prompt = 'query: ';
      const [withPrompt, without] = stCausalReference([
        { model: st, kind: 'predict', pairs: items, prompt },
        { model: st, kind: 'predict', pairs: items },
      ]);
      const ours = Array.from(await model.predict(items, { prompt }));
      for (let i = 0; i < items.length; i++) expect(Math.abs(ours[i]! - withPrompt!.scores![i]!)).toBeLessThanOrEqual(PARITY_BOUND);
      expect(withPrompt!.scores).not.toEqual(without!.scores);
      await expect(model.predict(items, { promptName: 'query' })).rejects.toThrow(/it has none/);
    } finally {
      await model.dispose();
    }
  }, 600_000);
});
