/**
 * Reading a request's JSON body, within the payload limit. How long a client may take to send it
 * is Node's requestTimeout (ServerOptions.requestTimeoutMs), which answers 408 and closes.
 */
import type * as http from 'node:http';
import { HttpError } from './http-error';

export function readBody(request: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, 'PayloadTooLarge', `payload of ${declared} bytes > limit of ${limit} bytes`, { connection: 'close' }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Answered with 413 and the connection closed after it; the rest is read and dropped
        // meanwhile, so that the client gets the answer instead of a reset connection.
        request.off('data', onData);
        request.resume();
        reject(new HttpError(413, 'PayloadTooLarge', `payload > limit of ${limit} bytes`, { connection: 'close' }));
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
    // A client that goes away mid-body: nobody is left to answer.
    request.on('close', () => {
      if (!request.complete) reject(new HttpError(400, 'Validation', 'the client closed the connection before the body was sent'));
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
