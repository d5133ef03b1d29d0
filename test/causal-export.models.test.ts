// Causal-LM rerankers on both libtorches (vitest projects libtorch-1.13 and torch-2.13): saves
// built by sentence-transformers 6.3 (test/helpers/causal_fixture.py), exported with
// `--target-libtorch 1.13` (eager attention, which 1.13 runs), scored through our CrossEncoder
// and compared with sentence-transformers' own CrossEncoder (run by the project's .venv).
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { causalModel, causalSkipReason, expectSameRanking, exportedModel, stCausalReference } from './helpers/causal-reference';
import { modelTestsSkipReason } from './helpers/fixture-model';

const skip = modelTestsSkipReason() ?? causalSkipReason();
/** fp32 on the CPU: the same arithmetic in another order (batching, padding side, libtorch). */
const PARITY_BOUND = 1e-4;

const items: Array<[string, string]> = [
  ['what is the capital of France?', 'Paris is the capital and largest city of France.'],
  ['what is the capital of France?', 'Berlin is the capital of Germany.'],
  ['q', 'd'],
  ['insulin and glucose', 'Insulin therapy lowered blood glucose in patients with type 2 diabetes. '.repeat(8)],
  ['糖尿病', '胰岛素抵抗是2型糖尿病的主要特征之一。'],
];

describe.skipIf(skip !== null)(`causal-LM rerankers traced for libtorch 1.13${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const cases = [
    { name: 'qwen3-prompt-200', options: { family: 'qwen3', prompt: true, maxSeqLength: 200 }, prompts: [{}, { promptName: 'short' }] },
    { name: 'llama-64', options: { family: 'llama', prompt: true, maxSeqLength: 64 }, prompts: [{}, { prompt: '' }] },
  ] as const;
  const built = new Map<string, { st: string; tce: string }>();

  beforeAll(() => {
    for (const c of cases) {
      const { st } = causalModel(c.name, c.options);
      built.set(c.name, { st, tce: exportedModel(st, '1.13') });
    }
  }, 900_000);

  test.each(cases)('$name: predict within 1e-4 of sentence-transformers, the same rank order', async ({ name, prompts }) => {
    const { st, tce } = built.get(name)!;
    const model = await CrossEncoder.load(tce);
    try {
      const documents = items.map(([, d]) => d);
      const query = 'capital?';
      const reference = stCausalReference(prompts.flatMap((p: { prompt?: string; promptName?: string }) => {
        const common = { model: st, prompt: p.prompt ?? null, prompt_name: p.promptName ?? null };
        return [{ ...common, kind: 'predict' as const, pairs: items }, { ...common, kind: 'rank' as const, query, documents }];
      }));
      for (const [k, p] of prompts.entries()) {
        const ours = Array.from(await model.predict(items, p));
        const theirs = reference[2 * k]!.scores!;
        // Pairs score differently (not all cut to the same tokens), so the comparison means something.
        expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(1e-3);
        for (let i = 0; i < items.length; i++) expect(Math.abs(ours[i]! - theirs[i]!), `${name} pair ${i}`).toBeLessThanOrEqual(PARITY_BOUND);
        const ranked = await model.rank(query, documents, p);
        expectSameRanking(ranked, reference[2 * k + 1]!.ranked!, PARITY_BOUND);
      }
    } finally {
      await model.dispose();
    }
  });
});
