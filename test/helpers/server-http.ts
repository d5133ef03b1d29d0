/**
 * Helpers for the rerank server's tests over real loopback HTTP: one request, a raw socket, a
 * model whose scoring calls wait at a gate (so that a test decides when requests are in flight,
 * without timers), and a wait that counts event-loop turns instead of time.
 */
import http from 'node:http';
import net from 'node:net';
import type { CrossEncoder } from '../../lib/cross-encoder';

export interface Reply {
  status: number;
  body: any;
  headers: http.IncomingHttpHeaders;
}

/** One HTTP request; `body` is sent as JSON unless it is a string or a Buffer. A fresh connection each. */
export function request(port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = raw;
        try {
          parsed = JSON.parse(raw);
        } catch {
          // /metrics is text, /health empty
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** A raw TCP connection: what the server sent, and whether it closed the connection. */
export function rawSocket(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  socket.on('error', () => undefined); // a reset by the server is one of the outcomes tested
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  return { socket, connected, closed, received: () => received };
}

/** Resolves once `condition()` holds, checking once per turn of the event loop (no timer). */
export async function until(condition: () => boolean, what: string, turns = 2_000_000): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn > turns) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * `model` with its predict() and rank() held at a gate until open(): requests are in flight on the
 * server (bodies read, slots taken) for as long as the test wants. `waiting` counts held calls.
 */
export function gatedModel(model: CrossEncoder) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const state = { waiting: 0 };
  const gated = Object.create(model) as CrossEncoder;
  for (const name of ['predict', 'rank'] as const) {
    const original = (model[name] as (...args: unknown[]) => Promise<unknown>).bind(model);
    Object.defineProperty(gated, name, {
      value: async (...args: unknown[]) => {
        state.waiting++;
        await gate;
        state.waiting--;
        return original(...args);
      },
    });
  }
  return { model: gated, state, open };
}

/** The value of the Prometheus sample whose name and labels `line` matches (0 when absent). */
export function metric(text: string, line: RegExp): number {
  const match = new RegExp(`^${line.source} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** A full HTTP/1.1 POST of `body` as JSON, as raw bytes for rawSocket(). */
export function rawPost(path: string, body: unknown): string {
  const text = JSON.stringify(body);
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}
