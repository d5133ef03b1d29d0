/**
 * Reading the small files of a model directory (JSON configs, vocabularies), with errors that say
 * which file and what is wrong with it, under the code of the part that reads it.
 */
import fs from 'node:fs';
import { TceError, type TceErrorCode } from './errors';

export type FileKind = 'file' | 'missing' | 'other';

/**
 * Whether `file` is a regular file, absent, or something else (a directory, a FIFO: reading a
 * FIFO would block forever). A file that cannot be looked at (no execute permission on its
 * directory) is an error that says so, not "missing".
 */
export function fileKind(file: string, code: TceErrorCode): FileKind {
  try {
    return fs.statSync(file).isFile() ? 'file' : 'other';
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return 'missing';
    const hint = errno === 'EACCES' || errno === 'EPERM' ? ': permission denied (the directory needs read and execute permission for this user)' : ` (${(error as Error).message})`;
    throw new TceError(code, `Cannot access ${file}${hint}`, { cause: error });
  }
}

export function readText(file: string, code: TceErrorCode): string {
  const kind = fileKind(file, code);
  if (kind === 'missing') throw new TceError(code, `${file}: file not found`);
  if (kind === 'other') throw new TceError(code, `${file}: not a regular file`);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new TceError(code, `${file}: cannot be read (${(error as Error).message})`, { cause: error });
  }
}

export function readJsonObject(file: string, code: TceErrorCode): Record<string, unknown> {
  const text = readText(file, code);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TceError(code, `${file}: is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TceError(code, `${file}: must contain a JSON object`);
  }
  return value as Record<string, unknown>;
}
