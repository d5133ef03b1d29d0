// Causal-LM rerankers (sentence-transformers 6.3 Transformer(text-generation) -> LogitScore)
// through scripts/export.py, checked from Python against sentence-transformers itself (the Node
// runtime for these models is tested where it is built): small random-weight Qwen3 (tied
// embeddings, "yes"/"no", a saved default prompt, a max_seq_length that truncates), Qwen2 (untied
// lm_head, "1"/"0"), Qwen3 with a true token alone, and Llama. The exported graph, fed the token ids
// sentence-transformers produced (its chat template, prompt and truncation) right-padded, gives
// its raw scores (before the activation) within 1e-4, as TorchScript on torch 2.13 and on
// Debian's libtorch 1.13 (--target-libtorch 1.13) and as a .pt2 package; and sentence-transformers'
// own model gives the same scores on right padding as on its left padding.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readExportMetadata } from '../lib/torchscript-archive';
import { projectPython } from '../scripts/torch-python.mjs';
import { repoRoot } from './helpers/child';
import { bioasqPairs } from './helpers/fixture-model';
import {
  causalReference, chainExport, chainSave, chainSkipReason, exportRefusal, maxAbsDiff, runExport, type CausalReference,
} from './helpers/st-chain';

const BOUND = 1e-4;
const reason = chainSkipReason();
/** Debian's python3-torch: libtorch 1.13 from Python, to run the 1.13 trace. */
const debianPython = '/usr/bin/python3';
const debianTorch = spawnSync(debianPython, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout?.trim() ?? '';
const no113 = debianTorch.startsWith('1.13') ? null : `no Debian python3-torch 1.13 at ${debianPython} (found ${debianTorch || 'none'})`;

function pairs(): Array<[string, string]> {
  // Ragged lengths; a few documents longer than the saves' max_seq_length of 200 tokens.
  return bioasqPairs(14).map(([q, d], i): [string, string] => [q, i % 5 === 2 ? `${d} ${d}` : d.slice(0, 20 + ((i * 173) % 700))]);
}

/** Scores spread out (random weights still separate the pairs) and the export within BOUND. */
function expectScores(reference: CausalReference, scores: number[]) {
  expect(scores.length).toBe(reference.st.length);
  expect(maxAbsDiff(scores, reference.st)).toBeLessThanOrEqual(BOUND);
  expect(Math.max(...reference.st) - Math.min(...reference.st)).toBeGreaterThan(1e-2);
}

describe.skipIf(reason)(`export.py: causal-LM LogitScore rerankers${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const input = pairs();
  const scratch: string[] = [];
  let qwen3: { st: string; tce: string; ref: CausalReference };
  let qwen2: { st: string; tce: string; ref: CausalReference };
  beforeAll(() => {
    const st3 = chainSave('qwen3');
    qwen3 = { st: st3, tce: chainExport(st3, 'tce'), ref: causalReference(st3, input) };
    const st2 = chainSave('qwen2');
    qwen2 = { st: st2, tce: chainExport(st2, 'tce'), ref: causalReference(st2, input) };
  }, 600_000);
  afterAll(() => {
    for (const file of [qwen3?.ref.file, qwen2?.ref.file]) if (file) fs.rmSync(file, { force: true });
    for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('Qwen3 yes/no with its saved prompt, truncated to max_seq_length: TorchScript scores as sentence-transformers', () => {
    // Some pairs were cut to the save's 200 tokens (sentence-transformers keeps the template's suffix).
    expect(qwen3.ref.max_seq_length).toBe(200);
    expect(qwen3.ref.lengths).toContain(200);
    expect(Math.min(...qwen3.ref.lengths)).toBeLessThan(150);
    expectScores(qwen3.ref, runExport(path.join(qwen3.tce, 'model.pt'), qwen3.ref).scores);
  });

  test("right padding is what sentence-transformers' own model gives on its left padding (rotary, causal)", () => {
    expect(qwen3.ref.st_left_vs_right).toBeLessThanOrEqual(BOUND);
    expect(qwen2.ref.st_left_vs_right).toBeLessThanOrEqual(BOUND);
  });

  test('Qwen3 without the prompt and with a shorter max_seq_length: the same graph, other token ids', () => {
    const ref = causalReference(qwen3.st, input, ['--prompt', '', '--max-seq-length', '64']);
    try {
      expect(Math.max(...ref.lengths)).toBe(64);
      expectScores(ref, runExport(path.join(qwen3.tce, 'model.pt'), ref).scores);
      // The prompt changes the tokens, so the scores differ from the prompted ones.
      expect(maxAbsDiff(ref.st, qwen3.ref.st)).toBeGreaterThan(1e-3);
    } finally {
      fs.rmSync(ref.file, { force: true });
    }
  });

  test('Qwen2 "1"/"0" with an untied lm_head: scores as sentence-transformers; only the two head rows are kept', () => {
    expectScores(qwen2.ref, runExport(path.join(qwen2.tce, 'model.pt'), qwen2.ref).scores);
    // The graph's head holds the true and false rows only, never the vocabulary.
    const code = 'import sys, torch, json; m = torch.jit.load(sys.argv[1]); ' +
      'print(json.dumps({n: list(p.shape) for n, p in m.named_parameters() if "head" in n or "embed" in n}))';
    const r = spawnSync(projectPython('st6')!, ['-c', code, path.join(qwen2.tce, 'model.pt')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const shapes = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number[]>;
    expect(shapes['head.weight']).toEqual([2, 64]);
    expect(Object.values(shapes).filter((s) => s[0]! > 2).length).toBe(1); // the input embeddings alone
  });

  test('Qwen3 with a true token alone: logit(true)', () => {
    const st = chainSave('qwen3-true');
    const ref = causalReference(st, input.slice(0, 6));
    try {
      expectScores(ref, runExport(path.join(chainExport(st, 'tce'), 'model.pt'), ref).scores);
    } finally {
      fs.rmSync(ref.file, { force: true });
    }
  });

  test('Llama "1"/"0": the same graph for a Llama decoder', () => {
    const st = chainSave('llama');
    const ref = causalReference(st, input.slice(0, 6));
    try {
      expectScores(ref, runExport(path.join(chainExport(st, 'tce'), 'model.pt'), ref).scores);
    } finally {
      fs.rmSync(ref.file, { force: true });
    }
  });

  test('the metadata states the head, the padding and the derived num_labels', () => {
    expect(readExportMetadata(path.join(qwen3.tce, 'model.pt'))).toMatchObject({
      tce_head: 'logit-score', tce_padding_side: 'right', tce_num_labels: 1, num_labels: 1,
      input_names: ['input_ids', 'attention_mask'], true_token_id: expect.any(Number), false_token_id: expect.any(Number),
    });
    // The chat template and the prompts travel with the model for the runtime.
    for (const file of ['chat_template.jinja', 'config_sentence_transformers.json', 'tokenizer.json', 'sentence_bert_config.json']) {
      expect(fs.existsSync(path.join(qwen3.tce, file)), file).toBe(true);
    }
  });

  test.skipIf(no113)(`--target-libtorch 1.13: the eager trace runs on libtorch 1.13 and scores as sentence-transformers${no113 ? ` (skipped: ${no113})` : ''}`, () => {
    const tce = chainExport(qwen3.st, 'tce-113', ['--target-libtorch', '1.13']);
    expect(readExportMetadata(path.join(tce, 'model.pt'))).toMatchObject({ attn_implementation: 'eager', tce_head: 'logit-score' });
    const run = runExport(path.join(tce, 'model.pt'), qwen3.ref, debianPython);
    expect(run.torch).toMatch(/^1\.13/);
    expectScores(qwen3.ref, run.scores);
  }, 600_000);

  test('.pt2: dynamic batch and sequence up to the model\'s 32768 positions, scores as sentence-transformers', () => {
    const tce = chainExport(qwen3.st, 'pt2', ['--format', 'pt2']);
    expect(readExportMetadata(path.join(tce, 'model.pt2'))).toMatchObject({
      format: 'pt2', tce_head: 'logit-score', tce_padding_side: 'right', num_labels: 1, max_sequence: 32768,
    });
    expectScores(qwen3.ref, runExport(path.join(tce, 'model.pt2'), qwen3.ref).scores);
  }, 900_000);

  test('a decoder the graph is not known to reproduce is refused in one line naming it, before its weights load', () => {
    const save = fs.mkdtempSync(path.join(repoRoot, 'test', 'fixtures', 'models', 'gpt2-'));
    scratch.push(save);
    fs.cpSync(qwen2.st, save, { recursive: true });
    const configFile = path.join(save, 'config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(configFile, JSON.stringify({ ...config, model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }));
    fs.rmSync(path.join(save, 'model.safetensors')); // never read: the refusal comes first
    const out = path.join(save, 'out');
    const { status, stderr } = exportRefusal(save, out);
    expect(status).not.toBe(0);
    expect(stderr.trim().split('\n').pop()).toBe(
      "export.py: module 0 (Transformer) cannot be exported: causal-LM architecture 'gpt2' (GPT2LMHeadModel) " +
      'is not supported; supported: qwen2, qwen3, llama');
    expect(fs.existsSync(out)).toBe(false);
  });
});
