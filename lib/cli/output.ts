/**
 * Where the CLI writes its JSONL: a file, or stdout. Lines are written a chunk of whole lines at
 * a time, and the count of lines that really reached the output is kept, so that a failure (disk
 * full: ENOSPC, EIO) is reported with it; a file is then cut back to its last whole line.
 *
 * A file (and stdout redirected to a file or a device such as /dev/full) is written with
 * positioned-less fs writes on the file descriptor, whose partial writes are seen; a pipe or a
 * terminal through process.stdout, where a reader that goes away (EPIPE, `| head`) is not an error.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

const write = promisify(fs.write);

export class OutputError extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException, readonly linesWritten: number, target: string, truncated: boolean) {
    super(`cannot write ${target}: ${cause.message}; ${linesWritten} line${linesWritten === 1 ? '' : 's'} reached it` +
      (truncated ? ', and it ends with the last of them (no partial line)' : ''));
    this.name = 'OutputError';
  }
}

export interface LineSink {
  /** Lines written and confirmed. */
  readonly linesWritten: number;
  /** Whether the reader went away (a pipe closed): nothing more will be read. */
  readonly readerGone: boolean;
  /** Writes `text`, which holds `lines` whole lines; rejects with an OutputError. */
  write(text: string, lines: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where this process's writes to `fd` begin in its file: the end of the file when the descriptor
 * appends (`>> out.jsonl`), else its current offset (stdout may follow what other writers put
 * there first). Linux tells both in /proc/self/fdinfo; elsewhere the file's size is the guess.
 */
function startOffset(fd: number): number {
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) return 0;
  try {
    const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const flags = /^flags:\s*([0-7]+)$/m.exec(info);
    const pos = /^pos:\s*(\d+)$/m.exec(info);
    if (flags && pos) return (parseInt(flags[1], 8) & fs.constants.O_APPEND) !== 0 ? stat.size : Number(pos[1]);
  } catch {
    // not Linux: fall through
  }
  return stat.size;
}

/** Output to a file descriptor (a file or a device), seeing partial writes. */
class FdSink implements LineSink {
  linesWritten = 0;
  readerGone = false;
  /** Where this sink's first byte went in the file: what was there before is never cut. */
  private readonly start: number;
  /** Bytes of whole lines written since `start`: the file is cut back to start + bytes after a failure. */
  private bytes = 0;

  constructor(private readonly fd: number, private readonly name: string, private readonly owned: boolean) {
    this.start = owned ? 0 : startOffset(fd);
  }

  async write(text: string, lines: number): Promise<void> {
    const data = Buffer.from(text);
    let offset = 0;
    try {
      while (offset < data.length) offset += (await write(this.fd, data, offset, data.length - offset)).bytesWritten;
    } catch (error) {
      // The lines of this chunk that reached it whole count; a partial one is cut off below.
      const prefix = data.subarray(0, offset);
      const lastNewline = prefix.lastIndexOf(0x0a);
      let whole = 0;
      for (let i = prefix.indexOf(0x0a); i !== -1; i = prefix.indexOf(0x0a, i + 1)) whole++;
      this.linesWritten += whole;
      this.bytes += lastNewline + 1;
      throw new OutputError(error as NodeJS.ErrnoException, this.linesWritten, this.name, this.cutBack());
    }
    this.linesWritten += lines;
    this.bytes += data.length;
  }

  /**
   * Cuts a regular file back to its content before this sink plus the whole lines this sink
   * wrote; false when it is not a regular file (a device).
   */
  private cutBack(): boolean {
    try {
      if (!fs.fstatSync(this.fd).isFile()) return false;
      fs.ftruncateSync(this.fd, this.start + this.bytes);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.owned) await promisify(fs.close)(this.fd);
  }
}

/** Output through process.stdout (a pipe or a terminal). */
class StreamSink implements LineSink {
  linesWritten = 0;
  readerGone = false;

  constructor(private readonly stream: NodeJS.WriteStream) {
    // Errors come to the write callbacks; without a listener one would also be thrown.
    stream.on('error', () => undefined);
  }

  write(text: string, lines: number): Promise<void> {
    if (this.readerGone) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.stream.write(text, (error) => {
        if (!error) {
          this.linesWritten += lines;
          resolve();
        } else if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
          this.readerGone = true;
          resolve();
        } else {
          reject(new OutputError(error as NodeJS.ErrnoException, this.linesWritten, 'stdout', false));
        }
      });
    });
  }

  async close(): Promise<void> {
    // stdout stays open: the process exits with it.
  }
}

/** `target`: a path, opened (created or truncated) now, or '-' for stdout. */
export function openOutput(target: string): LineSink {
  if (target !== '-') return new FdSink(fs.openSync(target, 'w'), target, true);
  const stat = fs.fstatSync(1);
  if (stat.isFile() || stat.isCharacterDevice() && !process.stdout.isTTY) return new FdSink(1, 'stdout', false);
  return new StreamSink(process.stdout);
}
