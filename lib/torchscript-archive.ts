/**
 * Reads one small file (the export metadata) out of a model file without libtorch: a TorchScript
 * archive (model.pt) or an AOTInductor package (model.pt2). Both are zip files whose entries are
 * stored uncompressed; only the central directory and one entry are read. The model directory
 * reader uses it to check config.json against the model, and a load failure to say which PyTorch
 * made the model and for what.
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

/** Entries read for metadata are small; anything larger is not what it claims. */
const MAX_ENTRY_BYTES = 1 << 20;

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
        if (method !== 0 || entrySize > MAX_ENTRY_BYTES) return null;
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
  /** 'torchscript' (model.pt) or 'pt2' (model.pt2: an AOTInductor package). */
  format?: 'torchscript' | 'pt2';
  torch_version?: string;
  num_labels?: number;
  input_names?: string[];
  attn_implementation?: string;
  /** Rows of the model's position-embedding table, when it has one (scripts/export.py). */
  max_positions?: number;
  /** model.pt2 only: the device type it was compiled for ('cpu', 'cuda'), its precision, and the
   * longest sequence it takes. */
  device?: string;
  precision?: string;
  max_sequence?: number;
  [key: string]: unknown;
}

/** What scripts/export.py stores in a package's AOTInductor metadata (strings only), by key. */
const PT2_KEYS: Record<string, (value: string) => [keyof ExportMetadata, unknown]> = {
  tce_torch_version: (v) => ['torch_version', v],
  tce_num_labels: (v) => ['num_labels', Number(v)],
  tce_input_names: (v) => ['input_names', v.split(',')],
  tce_attn_implementation: (v) => ['attn_implementation', v],
  tce_max_positions: (v) => ['max_positions', Number(v)],
  tce_precision: (v) => ['precision', v],
  tce_max_sequence: (v) => ['max_sequence', Number(v)],
  tce_head: (v) => ['tce_head', v],
  tce_padding_side: (v) => ['tce_padding_side', v],
  AOTI_DEVICE_KEY: (v) => ['device', v],
};

function parseObject(bytes: Buffer | null): Record<string, unknown> | null {
  if (!bytes) return null;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * The metadata scripts/export.py stores in a model file (model.pt: extra/metadata.json; model.pt2:
 * the package's AOTInductor metadata), or null when it has none or is not a readable archive.
 */
export function readExportMetadata(modelPath: string): ExportMetadata | null {
  const torchscript = parseObject(readArchiveEntry(modelPath, '/extra/metadata.json'));
  if (torchscript) return { format: 'torchscript', ...torchscript };
  const pt2 = parseObject(readArchiveEntry(modelPath, 'wrapper_metadata.json'));
  if (!pt2) return null;
  const metadata: ExportMetadata = { format: 'pt2' };
  for (const [key, value] of Object.entries(pt2)) {
    if (typeof value === 'string' && PT2_KEYS[key]) {
      const [name, parsed] = PT2_KEYS[key](value);
      metadata[name] = parsed;
    }
  }
  return metadata;
}
