/**
 * Worker-thread entry of Tokenizer.loadFromModelDir (lib/tokenizer-read.ts): reads a model
 * directory's tokenizer files here, off the main thread (JSON.parse of a tokenizer.json with
 * millions of tokens takes seconds), and posts back the spec without its vocabulary, which travels
 * as one UTF-8 buffer and the byte length of each token (both transferred, not copied), so that
 * the main thread never holds the vocabulary as JS strings.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readTokenizerDir } from './tokenizer-files';
import type { PackedTokenizerFiles } from './tokenizer-read';

const port = parentPort!;
try {
  const files = readTokenizerDir(workerData as string);
  const vocab = files.spec.vocab;
  const lengths = new Uint32Array(vocab.length);
  for (let i = 0; i < vocab.length; i++) lengths[i] = Buffer.byteLength(vocab[i]);
  const bytes = new TextEncoder().encode(vocab.join(''));
  const message: PackedTokenizerFiles = { files: { ...files, spec: { ...files.spec, vocab: [] } }, bytes, lengths };
  port.postMessage({ ok: message }, [bytes.buffer, lengths.buffer]);
} catch (error) {
  const e = error as { code?: unknown; message?: unknown };
  port.postMessage({ error: { code: e?.code, message: String(e?.message ?? error) } });
}
