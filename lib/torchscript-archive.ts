/**
 * Reads one small file (the export metadata) out of a TorchScript archive without libtorch, so
 * that a load failure can say which PyTorch made the model. TorchScript archives are zip files
 * whose entries are stored uncompressed; only the central directory and one entry are read.
 */
import fs from 'node:fs';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const read = fs.readSync(fd, buffer, 0, length, position);
  return buffer.subarray(0, read);
}

/** The bytes of the entry whose name ends with `suffix`, or null (not a zip, no such entry). */
export function readArchiveEntry(file: string, suffix: string): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const tailLength = Math.min(size, 22 + 65535 + 20);
    const tailStart = size - tailLength;
    const tail = readAt(fd, tailStart, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) return null;
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff && eocd >= 20 && tail.readUInt32LE(eocd - 20) === ZIP64_LOCATOR) {
      const record = readAt(fd, Number(tail.readBigUInt64LE(eocd - 20 + 8)), 56);
      if (record.readUInt32LE(0) !== ZIP64_EOCD) return null;
      count = Number(record.readBigUInt64LE(32));
      cdSize = Number(record.readBigUInt64LE(40));
      cdOffset = Number(record.readBigUInt64LE(48));
    }
    const cd = readAt(fd, cdOffset, cdSize);
    let p = 0;
    for (let n = 0; n < count && p + 46 <= cd.length; n++) {
      if (cd.readUInt32LE(p) !== CENTRAL) return null;
      const method = cd.readUInt16LE(p + 10);
      let entrySize = cd.readUInt32LE(p + 24);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      let localOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLength);
      if (name.endsWith(suffix)) {
        // zip64: sizes and offset marked 0xffffffff live in extra field 0x0001, in that order.
        let q = p + 46 + nameLength;
        const end = q + extraLength;
        while (q + 4 <= end) {
          const id = cd.readUInt16LE(q);
          const length = cd.readUInt16LE(q + 2);
          if (id === 1) {
            let r = q + 4;
            if (entrySize === 0xffffffff) { entrySize = Number(cd.readBigUInt64LE(r)); r += 8; }
            if (cd.readUInt32LE(p + 20) === 0xffffffff) r += 8;
            if (localOffset === 0xffffffff) localOffset = Number(cd.readBigUInt64LE(r));
          }
          q += 4 + length;
        }
        if (method !== 0) return null;
        const local = readAt(fd, localOffset, 30);
        if (local.length < 30 || local.readUInt32LE(0) !== LOCAL) return null;
        const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
        return readAt(fd, dataStart, entrySize);
      }
      p += 46 + nameLength + extraLength + commentLength;
    }
    return null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

export interface ExportMetadata {
  torch_version?: string;
  num_labels?: number;
  input_names?: string[];
  [key: string]: unknown;
}

/** The metadata scripts/export.py stores in the archive's extra files, or null. */
export function readExportMetadata(modelPath: string): ExportMetadata | null {
  const bytes = readArchiveEntry(modelPath, '/extra/metadata.json');
  if (!bytes) return null;
  try {
    return JSON.parse(bytes.toString('utf8')) as ExportMetadata;
  } catch {
    return null;
  }
}
