// scripts/export.py refuses a sentence-transformers module chain it cannot reproduce, in one line
// naming the module, before any weights load: each case is a save's modules.json and module
// configs written here (no weights at all), so an export that went on to load weights would fail
// otherwise than with the expected message.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { repoRoot } from './helpers/child';
import { chainSkipReason, exportRefusal } from './helpers/st-chain';

const reason = chainSkipReason();
const made: string[] = [];

type Module = { type: string; path: string; config?: Record<string, unknown> };

/** A save directory holding modules.json and each module's config file, and nothing else. */
function save(modules: Module[], extra: Record<string, unknown> = {}): string {
  const dir = fs.mkdtempSync(path.join(repoRoot, 'test', 'fixtures', 'models', 'refused-'));
  made.push(dir);
  fs.writeFileSync(path.join(dir, 'modules.json'), JSON.stringify(modules.map((m, i) => ({ idx: i, name: String(i), path: m.path, type: m.type }))));
  for (const m of modules) {
    fs.mkdirSync(path.join(dir, m.path), { recursive: true });
    const file = m.type.endsWith('.Transformer') ? 'sentence_bert_config.json' : 'config.json';
    fs.writeFileSync(path.join(dir, m.path, file), JSON.stringify(m.config ?? {}));
  }
  fs.writeFileSync(path.join(dir, 'config_sentence_transformers.json'), JSON.stringify({ model_type: 'CrossEncoder', ...extra }));
  return dir;
}

const transformer = (config: Record<string, unknown> = {}): Module => ({
  type: 'sentence_transformers.base.modules.transformer.Transformer', path: '', config: { transformer_task: 'feature-extraction', ...config },
});
const pooling = (config: Record<string, unknown> = {}): Module => ({
  type: 'sentence_transformers.sentence_transformer.modules.pooling.Pooling', path: '1_Pooling', config: { embedding_dimension: 32, pooling_mode: 'cls', ...config },
});
const dense = (config: Record<string, unknown> = {}): Module => ({
  type: 'sentence_transformers.base.modules.dense.Dense', path: '2_Dense',
  config: { in_features: 32, out_features: 1, activation_function: 'torch.nn.modules.linear.Identity', module_output_name: 'scores', ...config },
});

describe.skipIf(reason)(`export.py refuses module chains it cannot reproduce${reason ? ` (skipped: ${reason})` : ''}`, () => {
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, () => string, RegExp]> = [
    ['a chain that writes no scores (a SentenceTransformer save)', () => save([transformer(), pooling()]),
      /^export\.py: module 1 \(Pooling\) is the end of the chain, but no module writes 'scores': this save is not a CrossEncoder$/],
    ['a Dense with an activation outside torch.nn', () => save([transformer(), pooling(), dense({ activation_function: 'my_package.Swish' })]),
      /^export\.py: module 2 \(Dense, 2_Dense\) cannot be exported: activation 'my_package\.Swish' is not a torch\.nn module$/],
    ['Pooling without the prompt in a save with prompts', () => save([transformer(), pooling({ include_prompt: false }), dense()], { prompts: { q: 'query: ' } }),
      /^export\.py: module 1 \(Pooling, 1_Pooling\) cannot be exported: include_prompt=false with saved prompts/],
    ['a pooling mode sentence-transformers does not have', () => save([transformer(), pooling({ pooling_mode: 'median' }), dense()]),
      /^export\.py: module 1 \(Pooling, 1_Pooling\) cannot be exported: pooling mode 'median' is not one of cls, max, mean/],
    ['a Transformer that lowercases the text', () => save([transformer({ do_lower_case: true }), pooling(), dense()]),
      /^export\.py: module 0 \(Transformer\) cannot be exported: do_lower_case=true/],
    ['a Transformer task without a graph', () => save([transformer({ transformer_task: 'fill-mask' }), pooling(), dense()]),
      /^export\.py: module 0 \(Transformer\) cannot be exported: transformer_task 'fill-mask' is not one of/],
    ['LogitScore after a feature-extraction Transformer', () => save([transformer(), {
      type: 'sentence_transformers.cross_encoder.modules.logit_score.LogitScore', path: '1_LogitScore', config: { true_token_id: 3 } }]),
      /^export\.py: module 1 \(LogitScore, 1_LogitScore\) reads 'causal_logits', which no module before it writes$/],
  ];
  for (const [what, make, expected] of cases) {
    test(what, () => {
      const dir = make();
      const out = path.join(dir, 'out');
      const { status, stderr } = exportRefusal(dir, out);
      expect(status).not.toBe(0);
      expect(stderr.trim().split('\n').pop()).toMatch(expected);
      expect(fs.existsSync(out)).toBe(false);
    });
  }
});
