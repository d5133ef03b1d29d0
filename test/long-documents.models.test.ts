// Long documents (docs/LONG-DOCUMENTS.md): longDocuments 'max' | 'mean' | 'first' against an
// independent Python reference (test/helpers/long_doc_reference.py: windows from Hugging Face's
// tokenizer offsets on the same saved model, every window scored by sentence-transformers'
// CrossEncoder, then aggregated), on BioASQ questions against real PubMed abstracts longer than
// the window. Also: documents that fit score exactly as 'truncate'; windows cover every token with
// the overlaps asked for; progress and cancellation count documents; option errors. Runs on both
// libtorches (the saves are exported for libtorch 1.13 with --target-libtorch 1.13).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { Tokenizer } from '../lib/tokenizer';
import { BUNDLED_MODEL, bundledModelDir } from '../lib/bundled-model';
import { DEFAULT_WINDOW_TOKENS, planWindows, truncateDocuments, type Span, type Window } from '../lib/long-documents';
const plannedSpans = async (...args: Parameters<typeof planWindows>): Promise<Span[][]> => (await planWindows(...args)).windows;
import { projectPython } from '../scripts/torch-python.mjs';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';
import { bioasqPairs, modelTestsSkipReason } from './helpers/fixture-model';
import { familyTokenizers, multilingualTexts } from './helpers/hf-reference';
import { stModel, stSkipReason } from './helpers/st-reference';

/** fp32 on the CPU: the same arithmetic in another order (batching, padding, MKL). */
const FP32_BOUND = 1e-5;
/** A pair scored in another batch (other pairs, other padding) than the same pair under 'truncate'. */
const SAME_PAIR_BOUND = 1e-6;
/** Small enough that BioASQ questions against PubMed abstracts take several windows. */
const MAX_LENGTH = 64;
const torch2 = process.env.TCE_TEST_LIBTORCH === 'torch-2.13';
const referenceScript = path.join(repoRoot, 'test', 'helpers', 'long_doc_reference.py');

const abstracts = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'pubmed_sample.jsonl'), 'utf8')
  .split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { text: string }).text);
const questions = bioasqPairs(40).map(([q]) => q);
/** Question i against three long abstracts and one of its own gold snippets (short). */
function items(count: number): Array<[string, string]> {
  const short = bioasqPairs(count);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) {
    out.push([questions[i]!, abstracts[3 * i]!], [questions[i]!, abstracts[3 * i + 1]!], [questions[i]!, short[i]![1]]);
    out.push([questions[i]!, `${abstracts[3 * i + 2]}\n\n  ${abstracts[3 * i + 3]}  `]);
  }
  return out;
}

interface ReferenceRequest {
  model: string;
  max_length: number;
  window_tokens: number;
  mode: 'max' | 'mean' | 'first';
  stride: number | null;
  items: Array<[string, string]>;
  windows?: Array<Array<[number, number]>>;
}
interface ReferenceResult {
  windows: Array<Array<[number, number]>>;
  passages: Array<Array<[number, number]>>;
  token_ranges: Array<Array<[number, number]> | null>;
  doc_tokens: Array<number | null>;
  scores: Array<number | number[]>;
}

function reference(requests: ReferenceRequest[]): ReferenceResult[] {
  const dir = path.join(repoRoot, 'test', 'fixtures', 'models');
  const file = path.join(dir, `long-doc-requests-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(requests));
  try {
    const r = spawnSync(projectPython('st6')!, [referenceScript, '--requests', file, '--out', `${file}.out`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`long_doc_reference.py failed:\n${r.stderr.slice(-4000)}`);
    return (JSON.parse(fs.readFileSync(`${file}.out`, 'utf8')) as { results: ReferenceResult[] }).results;
  } finally {
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.out`, { force: true });
  }
}

/** The sentence-transformers save and its export for this libtorch. */
function model(name: 'one' | 'three', numLabels: number): { st: string; tce: string } {
  const built = stModel('st6', name, { numLabels });
  if (torch2) return built;
  const tce = path.join(repoRoot, 'test', 'fixtures', 'models', `long-docs-${name}-libtorch-1.13`);
  const stamp = path.join(tce, '.built-from');
  const exporter = path.join(repoRoot, 'scripts', 'export.py');
  const want = JSON.stringify({ st: fs.statSync(path.join(built.st, 'model.safetensors')).mtimeMs, export: fs.statSync(exporter).mtimeMs });
  if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want)) {
    const r = spawnSync(projectPython('st6')!, [exporter, built.st, tce, '--target-libtorch', '1.13'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`export.py --target-libtorch 1.13 failed:\n${r.stderr.slice(-4000)}`);
    fs.writeFileSync(stamp, want);
  }
  return { st: built.st, tce };
}

function worst(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let w = 0;
  for (let i = 0; i < expected.length; i++) w = Math.max(w, Math.abs(actual[i]! - expected[i]!));
  return w;
}

const spans = (windows: Span[][]) => windows.map((ws) => ws.map((w): [number, number] => [w.start, w.end]));

const reason = stSkipReason('st6') ?? modelTestsSkipReason();
describe.skipIf(reason)(`long documents (CPU${reason ? `; skipped: ${reason}` : ''})`, () => {
  const input = items(6);
  const loaded: CrossEncoder[] = [];
  let one: { st: string; tce: string };
  let three: { st: string; tce: string };
  let ce: CrossEncoder<false>;
  let ce3: CrossEncoder<true>;
  const requests: ReferenceRequest[] = [];
  let results: ReferenceResult[];
  // windowTokens null: the default, larger than what fits beside a query in MAX_LENGTH.
  const cases = [
    { mode: 'max', stride: null, windowTokens: null },
    { mode: 'max', stride: 0, windowTokens: null },
    { mode: 'max', stride: 9, windowTokens: null },
    { mode: 'max', stride: null, windowTokens: 20 },
    { mode: 'mean', stride: null, windowTokens: null },
    { mode: 'first', stride: null, windowTokens: 17 },
  ] as const;

  beforeAll(async () => {
    one = model('one', 1);
    three = model('three', 3);
    for (const c of cases) requests.push({ model: one.st, max_length: MAX_LENGTH, window_tokens: c.windowTokens ?? DEFAULT_WINDOW_TOKENS, mode: c.mode, stride: c.stride, items: input });
    requests.push({ model: three.st, max_length: MAX_LENGTH, window_tokens: DEFAULT_WINDOW_TOKENS, mode: 'mean', stride: 5, items: input });
    requests.push({ model: three.st, max_length: MAX_LENGTH, window_tokens: DEFAULT_WINDOW_TOKENS, mode: 'first', stride: null, items: input });
    results = reference(requests);
    ce = await CrossEncoder.load(one.tce, { device: 'cpu', maxLength: MAX_LENGTH, batchSize: 8 });
    ce3 = await CrossEncoder.load(three.tce, { device: 'cpu', maxLength: MAX_LENGTH, multiLabel: true });
    loaded.push(ce, ce3);
  });
  afterAll(async () => {
    await Promise.all(loaded.map((m) => m.dispose()));
  });

  test('the documents are longer than the window (else nothing here is tested)', () => {
    const multi = results[0]!.windows.filter((w) => w.length > 1).length;
    expect(multi).toBeGreaterThanOrEqual(input.length / 2);
    expect(Math.max(...results[0]!.windows.map((w) => w.length))).toBeGreaterThanOrEqual(5);
  });

  test.each(cases.map((c, k) => ({ ...c, k })))('windows are the reference\'s: $mode, stride $stride, windowTokens $windowTokens', async ({ mode, stride, windowTokens, k }) => {
    const windows = await plannedSpans(ce.tokenizer, input, { maxLength: MAX_LENGTH, windowTokens: windowTokens ?? undefined, stride: stride ?? undefined, mode }, String);
    expect(spans(windows)).toEqual(results[k]!.windows);
  });

  test.each(cases.map((c, k) => ({ ...c, k })))('predict and rank agree with sentence-transformers window by window: $mode, stride $stride, windowTokens $windowTokens', async ({ mode, stride, windowTokens, k }) => {
    const options = { longDocuments: mode, ...(stride === null ? {} : { stride }), ...(windowTokens === null ? {} : { windowTokens }) };
    const expected = results[k]!.scores as number[];
    const scores = await ce.predict(input, options);
    expect(worst(scores, expected)).toBeLessThanOrEqual(FP32_BOUND);
    // rank: one query's documents, with the best window's span.
    const docs = input.filter(([q]) => q === questions[0]).map(([, d]) => d);
    const ids = input.flatMap(([q], i) => (q === questions[0] ? [i] : []));
    const ranked = await ce.rank(questions[0]!, docs, { ...options, returnPassage: true, returnDocuments: true });
    for (const r of ranked) {
      expect(Math.abs(r.score - expected[ids[r.corpusId]!]!)).toBeLessThanOrEqual(FP32_BOUND);
      const passages = results[k]!.passages[ids[r.corpusId]!]!;
      expect(passages).toContainEqual([r.passage!.start, r.passage!.end]);
      expect(r.passage!.text).toBe(r.text!.slice(r.passage!.start, r.passage!.end));
      if (mode === 'first') expect([r.passage!.start, r.passage!.end]).toEqual(passages[0]);
    }
  });

  test('the best window is the one sentence-transformers scores highest', async () => {
    const docs = input.map(([, d]) => d);
    const { windows } = await planWindows(ce.tokenizer, docs.map((d) => [questions[1]!, d]), { maxLength: MAX_LENGTH, windowTokens: undefined, stride: undefined, mode: 'max' }, String);
    const [ref] = reference([{ model: one.st, max_length: MAX_LENGTH, window_tokens: DEFAULT_WINDOW_TOKENS, mode: 'first', stride: null,
      items: windows.flatMap((ws, i) => ws.map((w): [string, string] => [questions[1]!, docs[i]!.slice(w.start, w.end)])) }]);
    const ranked = await ce.rank(questions[1]!, docs, { longDocuments: 'max', returnPassage: true });
    const scores = ref!.scores as number[];
    for (const r of ranked) {
      const first = windows.slice(0, r.corpusId).reduce((n, w) => n + w.length, 0);
      const mine = scores.slice(first, first + windows[r.corpusId]!.length);
      const ours = windows[r.corpusId]!.findIndex((w) => w.passage.start === r.passage!.start && w.passage.end === r.passage!.end);
      expect(ours).toBeGreaterThanOrEqual(0);
      // The highest-scoring window (two within the fp32 bound may trade places).
      expect(Math.max(...mine) - mine[ours]!).toBeLessThanOrEqual(FP32_BOUND);
      expect(Math.abs(r.score - Math.max(...mine))).toBeLessThanOrEqual(FP32_BOUND);
    }
  });

  test('windows cover every token of the document, overlapping by at most stride tokens (exactly 0 for stride 0)', () => {
    for (const [k, c] of cases.entries()) {
      if (c.mode === 'first') continue;
      const r = results[k]!;
      let multi = 0;
      r.windows.forEach((ws, i) => {
        const ranges = r.token_ranges[i];
        if (ranges === null) return; // fits: the whole document
        multi++;
        expect(ranges![0]![0]).toBe(0);
        expect(ranges![ranges!.length - 1]![1]).toBe(r.doc_tokens[i]);
        // A window holds at most windowTokens document tokens.
        if (c.windowTokens !== null) for (const [t0, t1] of ranges!) expect(t1 - t0).toBeLessThanOrEqual(c.windowTokens);
        for (let w = 1; w < ranges!.length; w++) {
          const overlap = ranges![w - 1]![1] - ranges![w]![0];
          expect(overlap).toBeGreaterThanOrEqual(0);
          expect(ranges![w]![0]).toBeGreaterThan(ranges![w - 1]![0]);
          if (c.stride === 0) expect(overlap).toBe(0);
          else expect(overlap).toBeLessThanOrEqual(c.stride ?? Number.MAX_SAFE_INTEGER);
        }
      });
      expect(multi).toBeGreaterThan(0);
    }
  });

  test('with our tokenizer too: every window\'s text re-encodes to exactly its slice of the document\'s tokens', async () => {
    const stride = 9;
    const plan = await planWindows(ce.tokenizer, input, { maxLength: MAX_LENGTH, windowTokens: 40, stride, mode: 'max' }, String);
    let multi = 0;
    for (const [i, [query, doc]] of input.entries()) {
      expectExactWindows(ce.tokenizer, doc, plan.windows[i]!, { budget: 40, stride, maxLength: MAX_LENGTH, query });
      if (plan.windows[i]!.length > 1) multi++;
    }
    expect(multi).toBeGreaterThanOrEqual(input.length / 2);
  });

  test('multi-label: mean and first per label agree with sentence-transformers; max is refused', async () => {
    for (const [k, mode] of [[cases.length, 'mean'], [cases.length + 1, 'first']] as const) {
      const rows = await ce3.predict(input, { longDocuments: mode, ...(mode === 'mean' ? { stride: 5 } : {}) });
      const expected = results[k]!.scores as number[][];
      expect(worst(rows.flatMap((r) => Array.from(r)), expected.flat())).toBeLessThanOrEqual(FP32_BOUND);
    }
    await expect(ce3.predict(input, { longDocuments: 'max' })).rejects.toMatchObject({ code: 'TCE_INVALID_OPTION', message: expect.stringMatching(/one-label model.*'mean'/) });
  });

  test('documents that fit give the truncate scores in every mode, and a single pair works', async () => {
    const short = bioasqPairs(80).filter(([q, d]) => ce.tokenizer.encode(q, d).ids.length <= MAX_LENGTH);
    expect(short.length).toBeGreaterThanOrEqual(10);
    const truncated = await ce.predict(short);
    for (const mode of ['max', 'mean', 'first'] as const) {
      expect(worst(await ce.predict(short, { longDocuments: mode }), truncated)).toBeLessThanOrEqual(SAME_PAIR_BOUND);
      // Mixed with long documents, in other batches.
      const mixed = await ce.predict([...input, ...short], { longDocuments: mode });
      expect(worst(mixed.subarray(input.length), truncated)).toBeLessThanOrEqual(SAME_PAIR_BOUND);
      expect(Math.abs((await ce.predict(short[0]!, { longDocuments: mode })) - truncated[0]!)).toBeLessThanOrEqual(SAME_PAIR_BOUND);
      const rows = await ce3.predict(short.slice(0, 5), { longDocuments: mode === 'max' ? 'mean' : mode });
      const rows3 = await ce3.predict(short.slice(0, 5));
      expect(worst(rows.flatMap((r) => Array.from(r)), rows3.flatMap((r) => Array.from(r)))).toBeLessThanOrEqual(SAME_PAIR_BOUND);
    }
    const ranked = await ce.rank(short[0]![0], [short[0]![1]], { longDocuments: 'max', returnPassage: true });
    expect(ranked[0]!.passage).toEqual({ start: 0, end: short[0]![1].length, text: short[0]![1] });
  });

  test('a word longer than the window is cut between its tokens: nothing lost, nothing truncated, scored as sentence-transformers scores those windows', async () => {
    // A DNA word of many word pieces (under WordPiece's 100 characters, past which it is one [UNK]).
    const word = 'ATGCGTACGTTAGCCGATAGGCTTACGATCGGATCCAGTTACGCATGACTGGTACCAGTAGCTAGCATCGATCGTAGGCTAACGTAGCATCG';
    const doc = `${abstracts[0]!.slice(0, 200)} ${'蛋白质结构预测'.repeat(5)} ${word} ${'🧬'.repeat(3)} end`;
    const query = questions[2]!;
    const windowTokens = 12;
    const docIds = Array.from(ce.tokenizer.encode(doc, null, { addSpecialTokens: false }).ids);
    const wordTokens = ce.tokenizer.encode(word, null, { addSpecialTokens: false }).ids.length;
    expect(wordTokens).toBeGreaterThan(windowTokens);
    const { windows: [windows] } = await planWindows(ce.tokenizer, [[query, doc]], { maxLength: MAX_LENGTH, windowTokens, stride: 0, mode: 'max' }, String);
    expect(windows!.length).toBeGreaterThan(4);
    expect(windows![0]!.start).toBe(0);
    expect(windows![0]!.tokens.start).toBe(0);
    expect(windows![windows!.length - 1]!.tokens.end).toBe(docIds.length);
    expect(windows![windows!.length - 1]!.end).toBe(doc.length);
    for (let k = 1; k < windows!.length; k++) {
      // stride 0: contiguous, in text and in tokens.
      expect(windows![k]!.start).toBe(windows![k - 1]!.end);
      expect(windows![k]!.tokens.start).toBe(windows![k - 1]!.tokens.end);
    }
    for (const w of windows!) {
      expect(w.tokens.end - w.tokens.start).toBeLessThanOrEqual(windowTokens);
      expect(ce.tokenizer.encode(query, doc.slice(w.start, w.end)).ids.length).toBeLessThanOrEqual(MAX_LENGTH);
    }
    const [ref] = reference([{ model: one.st, max_length: MAX_LENGTH, window_tokens: windowTokens, mode: 'max', stride: 0, items: [[query, doc]],
      windows: [windows!.map((w): [number, number] => [w.start, w.end])] }]);
    const score = await ce.predict([query, doc], { longDocuments: 'max', windowTokens, stride: 0 });
    expect(Math.abs(score - (ref!.scores[0] as number))).toBeLessThanOrEqual(FP32_BOUND);
  });

  test('onProgress counts documents: rising, total the number of documents, ending there', async () => {
    for (const mode of ['max', 'mean', 'first'] as const) {
      const reports: Array<[number, number]> = [];
      await ce.predict(input, { longDocuments: mode, batchSize: 4, onProgress: (done, total) => void reports.push([done, total]) });
      expect(reports.length).toBeGreaterThan(1);
      expect(reports.every(([, total]) => total === input.length)).toBe(true);
      for (let i = 1; i < reports.length; i++) expect(reports[i]![0]).toBeGreaterThan(reports[i - 1]![0]);
      expect(reports[reports.length - 1]).toEqual([input.length, input.length]);
    }
    const ranked: Array<[number, number]> = [];
    const docs = input.map(([, d]) => d);
    await ce.rank(questions[0]!, docs, { longDocuments: 'max', batchSize: 4, onProgress: (d, t) => void ranked.push([d, t]) });
    expect(ranked[ranked.length - 1]).toEqual([docs.length, docs.length]);
  });

  test('an AbortSignal stops the call: before it starts, and from onProgress after the first documents', async () => {
    const before = new AbortController();
    before.abort();
    await expect(ce.predict(input, { longDocuments: 'max', signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const during = new AbortController();
    const reports: number[] = [];
    const call = ce.predict(input, { longDocuments: 'max', batchSize: 2, signal: during.signal, onProgress: (done) => {
      reports.push(done);
      during.abort();
    } });
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(reports.length).toBe(1);
    expect(reports[0]!).toBeLessThan(input.length);
    // Still usable.
    expect((await ce.predict(input.slice(0, 2), { longDocuments: 'max' })).length).toBe(2);
  });

  test('bad options and a query that leaves no room are clear errors', async () => {
    const invalid = { code: 'TCE_INVALID_OPTION' };
    await expect(ce.predict(input, { longDocuments: 'chunks' as never })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining("'truncate', 'max', 'mean', 'first'") });
    for (const stride of [-1, 1.5, '4', Number.NaN]) {
      await expect(ce.predict(input, { longDocuments: 'max', stride: stride as never })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining('stride must be an integer') });
    }
    await expect(ce.predict(input, { stride: 4 })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining("stride applies to longDocuments 'max'") });
    await expect(ce.predict(input, { windowTokens: 32 })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining("windowTokens applies to longDocuments 'max'") });
    for (const windowTokens of [0, -3, 2.5, '64', 2 ** 21]) {
      await expect(ce.predict(input, { longDocuments: 'mean', windowTokens: windowTokens as never })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining('windowTokens must be an integer from 1 to 1048576') });
    }
    await expect(ce.predict(input, { longDocuments: 'max', windowTokens: 12, stride: 12 })).rejects.toMatchObject({ ...invalid, message: 'stride 12 must be smaller than the window of pairs[0]: windowTokens 12.' });
    await expect(ce.predict(input, { longDocuments: 'max', stride: 60 })).rejects.toMatchObject({ ...invalid, message: expect.stringMatching(/stride 60 must be smaller than the window of pairs\[0\]: maxLength 64 - \d+ query tokens - 3 special tokens = \d+ tokens for the document \(below windowTokens 128\)/) });
    await expect(ce.rank('q', ['d'], { returnPassage: true })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining('returnPassage needs longDocuments') });
    await expect(ce.predict(input, { longDocuments: 'max', strides: 4 } as never)).rejects.toMatchObject({ ...invalid, message: expect.stringContaining('did you mean "stride"') });
    const longQuery = `${questions[0]} `.repeat(8);
    await expect(ce.predict([['short', 'doc'], [longQuery, abstracts[0]!]], { longDocuments: 'mean' })).rejects.toMatchObject({
      code: 'TCE_INVALID_INPUT', message: expect.stringMatching(/^pairs\[1\]: the query takes \d+ tokens .* never truncated/),
    });
    // 'truncate' still truncates such a pair, as sentence-transformers does.
    expect((await ce.predict([[longQuery, abstracts[0]!]])).length).toBe(1);
  });
});

// Windows are exact token slices for every tokenizer family: WordPiece (the bundled model's
// BERT), sentencepiece Unigram with Metaspace (XLM-R, DeBERTa-v3), byte-level BPE (ModernBERT,
// Qwen2, Llama 3), over real abstracts and multilingual text: each window's text, encoded alone,
// is exactly the document's tokens in the window's range.
const families = familyTokenizers('st6');
describe('windows are exact token slices of the document, for every tokenizer family', () => {
  const texts = multilingualTexts();
  const docs = texts.map((t, i) => `${t}\n\n${abstracts[i]}\t${t}  ${abstracts[i + 20]}`);
  const check = async (tokenizer: Tokenizer, windowTokens: number, stride: number, prefixSpace = false) => {
    const maxLength = 512;
    const input = docs.map((d, i): [string, string] => [questions[i % questions.length]!, d]);
    const plan = await planWindows(tokenizer, input, { maxLength, windowTokens, stride, mode: 'max' }, String);
    let multi = 0;
    let exact = 0;
    for (const [i, [query, doc]] of input.entries()) {
      exact += expectExactWindows(tokenizer, doc, plan.windows[i]!, { budget: windowTokens, stride, maxLength, query, prefixSpace }).exact;
      if (plan.windows[i]!.length > 1) multi++;
    }
    expect(multi).toBe(docs.length);
    // Words longer than a window (runs of CJK or Thai without spaces) are the exception.
    expect(exact).toBeGreaterThan(plan.count * 0.75);
    // Windows are cut near their end, not wherever a boundary is: all but each document's last
    // hold most of the window's tokens on average.
    const inner = plan.windows.flatMap((ws) => ws.slice(0, -1));
    expect(inner.reduce((sum, w) => sum + w.tokens.end - w.tokens.start, 0) / inner.length).toBeGreaterThan(windowTokens * 0.75);
    // 'first' plans the first of those windows only.
    // It reads each document only one token past the window, not to its end.
    const read: number[] = [];
    const counting = Object.create(tokenizer) as Tokenizer;
    counting.encodeBatch = async (inputs, options) => {
      const out = await tokenizer.encodeBatch(inputs, options);
      if (options?.returnOffsets) read.push(...out.map((e) => e.ids.length));
      return out;
    };
    const first = await planWindows(counting, input, { maxLength, windowTokens, stride, mode: 'first' }, String);
    expect(first.windows).toEqual(plan.windows.map((w) => [w[0]]));
    expect(read.length).toBe(docs.length);
    expect(Math.max(...read)).toBe(windowTokens + 1);
  };

  const bundled = bundledSkipReason();
  test.skipIf(bundled)(`BERT WordPiece (the bundled model)${bundled ? `; skipped: ${bundled}` : ''}`, async () => {
    const tokenizer = Tokenizer.fromModelDir(BUNDLED_MODEL);
    await check(tokenizer, 48, 12);
    await check(tokenizer, 20, 0);
    // A run of CJK text after a space: every character is a word of its own, none after a space
    // but the first; windows still fill up instead of ending after that first character.
    const cjk = `protein ${'蛋白质结构预测'.repeat(20)}`;
    const { windows: [ws] } = await planWindows(tokenizer, [['q', cjk]], { maxLength: 512, windowTokens: 16, stride: 0, mode: 'max' }, String);
    expect(ws!.length).toBeGreaterThan(5);
    for (const w of ws!.slice(0, -1)) expect(w.tokens.end - w.tokens.start).toBe(16);
    expectExactWindows(tokenizer, cjk, ws!, { budget: 16, stride: 0, maxLength: 512, query: 'q' });
  });

  test.skipIf('skip' in families).for(FAMILY_NAMES)(`%s${'skip' in families ? `; skipped: ${families.skip}` : ''}`, async (name) => {
    const tokenizer = familyTokenizer(name);
    await check(tokenizer, 48, 12, name === 'roberta');
    await check(tokenizer, 20, 3, name === 'roberta');
  });
});

// Cohere's max_tokens_per_doc (truncateDocuments): a document cut after its first N tokens.
describe('truncateDocuments: each document cut after exactly its first N tokens', () => {
  const docs = [...multilingualTexts().map((t, i) => `${t} ${abstracts[i]}`), 'short', ''];
  const check = async (tokenizer: Tokenizer, limits: number[]) => {
    let exact = 0;
    let long = 0;
    for (const n of limits) {
      const cut = await truncateDocuments(tokenizer, docs, n);
      cut.forEach((c, i) => {
        const doc = docs[i]!;
        const ids = Array.from(tokenizer.encode(doc, null, { addSpecialTokens: false }).ids);
        if (ids.length <= n) return void expect(c).toBe(doc);
        long++;
        expect(doc.startsWith(c)).toBe(true);
        // What is kept is the document's own first tokens, at most N of them; exactly N whenever
        // some prefix of the document encodes to them (not where tokens share a character, as
        // Hangul's jamo after NFD, or where a word's prefix re-tokenizes otherwise).
        const kept = Array.from(tokenizer.encode(c, null, { addSpecialTokens: false }).ids);
        expect(kept.length).toBeLessThanOrEqual(n);
        expect(kept).toEqual(ids.slice(0, kept.length));
        if (kept.length === n) exact++;
        else expect({ doc: doc.slice(0, 40), n, prefix: prefixEncodingTo(tokenizer, doc, ids.slice(0, n)) }).toEqual({ doc: doc.slice(0, 40), n, prefix: null });
      });
    }
    expect(long).toBeGreaterThan(docs.length);
    return { exact, long };
  };

  const bundled = bundledSkipReason();
  test.skipIf(bundled)(`BERT WordPiece (the bundled model)${bundled ? `; skipped: ${bundled}` : ''}`, async () => {
    const { exact, long } = await check(Tokenizer.fromModelDir(BUNDLED_MODEL), [1, 7, 12, 50]);
    expect(exact).toBeGreaterThan(long * 0.9);
  });

  test.skipIf('skip' in families).for(FAMILY_NAMES)(`%s: N tokens, or fewer where a word prefix re-tokenizes longer${'skip' in families ? `; skipped: ${families.skip}` : ''}`, async (name) => {
    const { exact, long } = await check(familyTokenizer(name), [1, 7, 12, 50]);
    expect(exact).toBeGreaterThan(long / 2);
  });
});

/** The shortest prefix of `text` that encodes to exactly `ids` (no special tokens), or null: found by encoding each prefix. */
function prefixEncodingTo(tokenizer: Tokenizer, text: string, ids: number[]): string | null {
  const want = JSON.stringify(ids);
  for (let end = 1; end <= text.length; end++) {
    const got = Array.from(tokenizer.encode(text.slice(0, end), null, { addSpecialTokens: false }).ids);
    if (JSON.stringify(got) === want) return text.slice(0, end);
    if (got.length > ids.length + 2) return null;
  }
  return null;
}

/**
 * The family tokenizers (scripts/make-family-fixtures.py), and RoBERTa's pipeline made from
 * ModernBERT's file: byte-level BPE with a prefix space and trim_offsets, whose offsets leave the
 * space out of a word's first token.
 */
const FAMILY_NAMES = ['xlmr', 'deberta-v3', 'modernbert', 'qwen2', 'llama3', 'roberta'];
function familyTokenizer(name: string): Tokenizer {
  const dir = (families as { dir: string }).dir;
  if (name !== 'roberta') return Tokenizer.fromModelDir(path.join(dir, name));
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'modernbert', 'tokenizer.json'), 'utf8'));
  json.normalizer = null;
  json.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
  json.post_processor = { type: 'RobertaProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1], trim_offsets: true, add_prefix_space: true };
  const file = path.join(tempDir('tce-long-roberta'), 'tokenizer.json');
  fs.writeFileSync(file, JSON.stringify(json));
  return Tokenizer.fromFile(file);
}

/** Why the bundled model's tokenizer is not there (its package not installed), or null. */
function bundledSkipReason(): string | null {
  try {
    bundledModelDir();
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0]!;
  }
}

/**
 * `windows` of `doc` checked with `tokenizer`: a document of at most `budget` tokens is one
 * window, the whole document; otherwise every window's text, encoded alone, is exactly the
 * document's tokens in the window's range (but where a word longer than the window had to be cut,
 * and, with a prefix space, for a first word the document has without whitespace before it), of at most `budget` tokens, fitting beside `query` in
 * `maxLength`; the windows cover every token, each starting after the one before and sharing at
 * most `stride` tokens with it; a window's passage ends where its text ends, and what its text
 * has before its passage is whitespace or makes no token.
 */
function expectExactWindows(tokenizer: Tokenizer, doc: string, windows: Window[], o: { budget: number; stride: number; maxLength: number; query: string; prefixSpace?: boolean }): { exact: number; windows: number } {
  const whole = tokenizer.encode(doc, null, { addSpecialTokens: false, returnOffsets: true });
  const ids = Array.from(whole.ids);
  const wordIds = whole.wordIds!;
  if (ids.length <= o.budget) {
    expect(windows).toEqual([{ start: 0, end: doc.length, passage: { start: 0, end: doc.length }, tokens: { start: 0, end: ids.length } }]);
    return { exact: 1, windows: 1 };
  }
  expect(windows[0]!.tokens.start).toBe(0);
  expect(windows[0]!.start).toBe(0);
  expect(windows[windows.length - 1]!.tokens.end).toBe(ids.length);
  let exact = 0;
  const wordLength = (t: number) => wordIds.filter((w) => w === wordIds[t]).length;
  windows.forEach((w, k) => {
    const text = doc.slice(w.start, w.end);
    const where = { text: text.slice(0, 80), tokens: w.tokens };
    // A window cut inside a word (its first token continues a word, or its last token's word goes
    // on) is one only where that word alone is longer than the window.
    const cutIn = [w.tokens.start > 0 && wordIds[w.tokens.start] === wordIds[w.tokens.start - 1] ? w.tokens.start : -1,
      w.tokens.end < ids.length && wordIds[w.tokens.end] === wordIds[w.tokens.end - 1] ? w.tokens.end : -1].filter((t) => t >= 0);
    for (const t of cutIn) expect({ ...where, wordTokens: wordLength(t) > o.budget }).toEqual({ ...where, wordTokens: true });
    const got = Array.from(tokenizer.encode(text, null, { addSpecialTokens: false }).ids);
    const want = ids.slice(w.tokens.start, w.tokens.end);
    const afterSpace = w.tokens.start === 0 || doc[w.passage.start - 1] === ' ' || doc[w.passage.start] === ' ';
    if (cutIn.length === 0 && (afterSpace || !o.prefixSpace)) {
      expect({ ...where, ids: got }).toEqual({ ...where, ids: want });
      exact++;
    } else if (cutIn.length === 0) {
      // A prefix space (add_prefix_space) changes a first word the document has without a space
      // before it (windows start after a space wherever one is in reach); the rest is the document's.
      const first = wordLength(w.tokens.start);
      expect({ ...where, tail: got.slice(got.length - (want.length - first)) }).toEqual({ ...where, tail: want.slice(first) });
    }
    expect(w.tokens.end - w.tokens.start).toBeLessThanOrEqual(o.budget);
    expect(tokenizer.encode(o.query, text).ids.length).toBeLessThanOrEqual(o.maxLength);
    expect(w.passage.end).toBe(w.end);
    expect(w.passage.start).toBeGreaterThanOrEqual(w.start);
    // Before the passage: whitespace (which trim_offsets leaves out of the first token), or what
    // makes no token (what the normalizer drops).
    const gap = doc.slice(w.start, w.passage.start);
    expect({ gap, blank: /^\s*$/u.test(gap) || tokenizer.encode(gap, null, { addSpecialTokens: false }).ids.length === 0 }).toEqual({ gap, blank: true });
    if (k > 0) {
      const before = windows[k - 1]!;
      expect(w.tokens.start).toBeGreaterThan(before.tokens.start);
      const overlap = before.tokens.end - w.tokens.start;
      expect(overlap).toBeGreaterThanOrEqual(0);
      expect(overlap).toBeLessThanOrEqual(o.stride);
      // The text scored starts where the window before ends when they share no token.
      if (overlap === 0) expect(w.start).toBe(before.end);
    }
  });
  return { exact, windows: windows.length };
}
