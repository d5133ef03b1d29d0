/**
 * CORS as text-embeddings-inference answers it (tower-http's CorsLayer): any origin by default,
 * or a list (--cors-allow-origin); methods GET and POST; a preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) is answered 200 with the allowed methods and headers. TEI allows
 * only the content-type header; Authorization is allowed too here, so that a browser can send the
 * API key.
 */
import type * as http from 'node:http';

/** Whether `request` is a CORS preflight. */
export function isPreflight(request: http.IncomingMessage): boolean {
  return request.method === 'OPTIONS' && request.headers.origin !== undefined && request.headers['access-control-request-method'] !== undefined;
}

/** Sets the CORS headers of a response to `request` (nothing for a request without Origin, or from an origin not allowed). */
export function setCorsHeaders(request: http.IncomingMessage, response: http.ServerResponse, allowed: readonly string[], preflight: boolean): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  if (allowed.includes('*')) {
    response.setHeader('access-control-allow-origin', '*');
  } else {
    response.setHeader('vary', 'origin');
    if (!allowed.includes(origin)) return;
    response.setHeader('access-control-allow-origin', origin);
  }
  if (preflight) {
    response.setHeader('access-control-allow-methods', 'GET,POST');
    response.setHeader('access-control-allow-headers', 'content-type,authorization');
  }
}
