/**
 * Checks of the CLI's input and output paths, made before a model loads and before an output is
 * created or truncated: a wrong path costs nothing, and the input can never be overwritten.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './args';

/** The input: '-' (stdin) or a readable regular file. */
export function checkInput(input: string): void {
  if (input === '-') return;
  const stat = fs.statSync(input, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new UsageError(`${input} is not a file`);
  try {
    fs.accessSync(input, fs.constants.R_OK);
  } catch {
    throw new UsageError(`${input} is not readable`);
  }
}

/** A standard stream's file, or null when the process was started without it. */
function fstat(fd: number): fs.Stats | null {
  try {
    return fs.fstatSync(fd);
  } catch {
    return null;
  }
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * The output: '-' (stdout) or a path whose folder exists and that can be written, and that is not
 * the input, through any name (a symbolic or hard link, or stdin redirected from it).
 */
export function checkOutput(output: string, input: string): void {
  const inputStat = input === '-' ? fstat(0) : fs.statSync(input);
  if (output === '-') {
    const stdout = fstat(1);
    if (stdout?.isFile() && inputStat?.isFile() && sameFile(stdout, inputStat)) throw new UsageError('stdout is the input file: scores would overwrite the pairs');
    return;
  }
  const existing = fs.statSync(output, { throwIfNoEntry: false });
  if (existing) {
    if (existing.isDirectory()) throw new UsageError(`--output ${output} is a folder`);
    if (inputStat?.isFile() && sameFile(existing, inputStat)) {
      throw new UsageError(`--output ${output} is the input file${input === '-' ? ' (stdin)' : ` ${input}`}: it would be overwritten before it is read`);
    }
  }
  const folder = path.dirname(path.resolve(output));
  if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--output ${output}: the folder ${folder} does not exist`);
  try {
    fs.accessSync(existing ? output : folder, fs.constants.W_OK);
  } catch {
    throw new UsageError(`--output ${output} cannot be written (permissions)`);
  }
}
