/**
 * Reads a model directory's tokenizer files for Tokenizer.loadFromModelDir without holding the
 * event loop: in a worker thread when the package runs compiled (dist/), where the worker script
 * exists; in this thread otherwise (the TypeScript sources under a test runner), with the
 * vocabulary then handed to the addon in chunks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { TCE_ERROR_CODES, TceError, type TceErrorCode } from './errors';
import type { NativeTextBuffer } from './native';
import { transferTexts } from './text-transfer';
import { readTokenizerDir, type TokenizerFiles } from './tokenizer-files';

/** The files as the worker sends them: the vocabulary packed as UTF-8 bytes and byte lengths. */
export interface PackedTokenizerFiles {
  files: TokenizerFiles;
  bytes: Uint8Array;
  lengths: Uint32Array;
}

export interface ReadTokenizer {
  files: TokenizerFiles;
  /** What the addon's Tokenizer.build() takes as the vocabulary. */
  vocab: NativeTextBuffer | { bytes: Uint8Array; lengths: Uint32Array };
}

const workerScript = path.join(__dirname, 'tokenizer-files-worker.js');

function readInWorker(dir: string): Promise<PackedTokenizerFiles> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerScript, { workerData: dir });
    let answered = false;
    worker.once('message', (message: { ok?: PackedTokenizerFiles; error?: { code?: unknown; message: string } }) => {
      answered = true;
      if (message.ok) return resolve(message.ok);
      const code = TCE_ERROR_CODES.includes(message.error!.code as TceErrorCode) ? (message.error!.code as TceErrorCode) : 'TCE_TOKENIZER_FILE';
      reject(new TceError(code, message.error!.message));
    });
    worker.once('error', (error) => {
      answered = true;
      reject(new TceError('TCE_TOKENIZER_FILE', `${dir}: reading the tokenizer files failed (${error.message})`, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new TceError('TCE_TOKENIZER_FILE', `${dir}: the thread reading the tokenizer files exited with code ${code}`));
    });
  });
}

export async function readTokenizerOffThread(dir: string): Promise<ReadTokenizer> {
  if (__filename.endsWith('.js') && fs.existsSync(workerScript)) {
    const { files, bytes, lengths } = await readInWorker(dir);
    return { files, vocab: { bytes, lengths } };
  }
  const files = readTokenizerDir(dir);
  const { vocab } = files.spec;
  return { files, vocab: await transferTexts(vocab.length, (i) => [vocab[i], null]) };
}
