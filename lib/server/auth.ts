/**
 * The API key check: `Authorization: Bearer <key>`, the scheme in any case (RFC 9110 makes auth
 * schemes case-insensitive), the key compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from './http-error';

/** Hashes first, so that keys of different lengths compare in the same time too. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Throws a 401 HttpError unless the headers carry `apiKey` as a bearer token. */
export function checkApiKey(headers: IncomingHttpHeaders, apiKey: string): void {
  const match = /^bearer[ \t]+(.*?)[ \t]*$/i.exec(headers.authorization ?? '');
  if (!match || !sameSecret(match[1], apiKey)) {
    throw new HttpError(401, 'Unauthorized', 'a valid `Authorization: Bearer <api key>` header is required');
  }
}
