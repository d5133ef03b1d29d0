/**
 * Reading a request's JSON body, within the payload limit. How long a client may take to send it
 * is Node's requestTimeout (ServerOptions.requestTimeoutMs), which answers 408 and closes.
 *
 * A body with a Content-Encoding (gzip, deflate, br, and zstd where this Node's zlib has it) is
 * decoded as it arrives, and the limit applies to the decoded bytes: decoding stops at the limit
 * (413), so a small body that inflates to gigabytes (a "zip bomb") is never inflated beyond it. An
 * encoding not listed is refused with 415, never read as plain text.
 */
import type * as http from 'node:http';
import type { Readable, Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { HttpError } from './http-error';

/** The decoders of the encodings a body may have, by their Content-Encoding name. */
const DECODERS: Record<string, () => Transform> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
  // zstd is in zlib from Node 22.15 / 23.8 on.
  ...(typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function'
    ? { zstd: () => (zlib as unknown as { createZstdDecompress: () => Transform }).createZstdDecompress() }
    : {}),
};

/** The encodings a request body may have (415 lists them). */
export const BODY_ENCODINGS: readonly string[] = Object.keys(DECODERS).filter((name) => name !== 'x-gzip');

/** The decoder for a Content-Encoding header, or null for none; 415 for one it cannot decode. */
function decoderFor(header: string | undefined): Transform | null {
  const codings = (header ?? '').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return null;
  const make = codings.length === 1 ? DECODERS[codings[0]!] : undefined;
  if (!make) {
    throw new HttpError(415, 'UnsupportedMediaType', `Content-Encoding ${JSON.stringify(header)} is not supported: send the body as it is, or with one of ${BODY_ENCODINGS.join(', ')}`, { connection: 'close' });
  }
  return make();
}

export function readBody(request: Readable & Pick<http.IncomingMessage, 'headers' | 'complete'>, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let decoder: Transform | null;
    try {
      decoder = decoderFor(request.headers['content-encoding']);
    } catch (error) {
      request.resume();
      reject(error);
      return;
    }
    const what = decoder ? 'decoded payload' : 'payload';
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, 'PayloadTooLarge', `payload of ${declared} bytes > limit of ${limit} bytes`, { connection: 'close' }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      if (decoder) {
        request.unpipe(decoder);
        decoder.destroy();
      }
      // Answered and the connection closed after it; the rest is read and dropped meanwhile, so
      // that the client gets the answer instead of a reset connection.
      request.resume();
      reject(error);
    };
    const source: Readable = decoder ?? request;
    source.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        fail(new HttpError(413, 'PayloadTooLarge', `${what} > limit of ${limit} bytes`, { connection: 'close' }));
        return;
      }
      chunks.push(chunk);
    });
    source.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks));
    });
    if (decoder) {
      decoder.on('error', (error: Error) => fail(new HttpError(400, 'Validation', `the body is not valid ${request.headers['content-encoding']}: ${error.message}`, { connection: 'close' })));
      request.pipe(decoder);
    }
    request.on('error', fail);
    // A client that goes away mid-body: nobody is left to answer.
    request.on('close', () => {
      if (!request.complete) fail(new HttpError(400, 'Validation', 'the client closed the connection before the body was sent'));
    });
  });
}

export type JsonObject = Record<string, unknown>;

export function parseJsonObject(body: Buffer): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(422, 'Validation', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(422, 'Validation', 'the body must be a JSON object');
  }
  return value as JsonObject;
}

/** TEI's optional boolean fields: absent or null is the default. */
export function optionalBoolean(body: JsonObject, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new HttpError(422, 'Validation', `\`${name}\` must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}
