// Request bodies with a Content-Encoding (docs/SERVER.md, *Compressed requests*): gzip, deflate
// and br bodies are decoded and answered as the same body sent plain; the payload limit applies
// to the decoded bytes and decoding stops there (a "zip bomb" is refused having read a small part
// of it); an encoding the server does not decode is 415, and a body that is not what its header
// says is 400, never parsed as plain text.
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { readBody } from '../lib/server/body';
import { HttpError } from '../lib/server/http-error';
import { RerankServer } from '../lib/server/server';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { request } from './helpers/server-http';

const reason = modelTestsSkipReason();
if (reason) console.warn(`server encoding tests skipped: ${reason}`);

/** `members` gzip members of 64 MiB of zeros each, one after another (gunzip reads them all). */
function gzipBomb(members: number): Buffer {
  const member = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  return Buffer.concat(Array.from({ length: members }, () => member));
}

describe('readBody: a compressed body decoded within the payload limit', () => {
  test('a gzip bomb (2 GiB decoded) is refused at the decoded limit having pulled a small part of it', async () => {
    const bomb = gzipBomb(32);
    let pulled = 0;
    let pulledAtRefusal = -1;
    // A chunk a turn of the event loop, as from a socket: what was pulled when the refusal came is
    // what the reader asked for, not what draining the rest after it takes.
    async function* chunks() {
      for (let at = 0; at < bomb.length; at += 16 * 1024) {
        await new Promise((resolve) => setImmediate(resolve));
        const chunk = bomb.subarray(at, at + 16 * 1024);
        pulled += chunk.length;
        yield chunk;
      }
    }
    const body = Object.assign(Readable.from(chunks(), { objectMode: false }), { headers: { 'content-encoding': 'gzip' }, complete: true });
    const error = await readBody(body, 1_000_000).then(() => null, (e: unknown) => {
      pulledAtRefusal = pulled;
      return e;
    });
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(413);
    expect((error as HttpError).message).toMatch(/decoded payload > limit of 1000000 bytes/);
    // 1 MB decoded is about 1 KB of this bomb: at most a few chunks of 16 KiB were pulled of 2 MB.
    expect(pulledAtRefusal).toBeGreaterThan(0);
    expect(pulledAtRefusal).toBeLessThan(bomb.length / 16);
  });

  test('every listed encoding decodes; several, or one not listed, are 415', async () => {
    const text = Buffer.from(JSON.stringify({ hello: 'world'.repeat(100) }));
    const encoded: Record<string, Buffer> = {
      gzip: zlib.gzipSync(text), 'x-gzip': zlib.gzipSync(text), deflate: zlib.deflateSync(text), br: zlib.brotliCompressSync(text), identity: text,
    };
    for (const [encoding, bytes] of Object.entries(encoded)) {
      const body = Object.assign(Readable.from([bytes]), { headers: { 'content-encoding': encoding }, complete: true });
      expect((await readBody(body, 1_000_000)).equals(text)).toBe(true);
    }
    for (const encoding of ['compress', 'gzip, br', 'snappy']) {
      const body = Object.assign(Readable.from([text]), { headers: { 'content-encoding': encoding }, complete: true });
      const error = await readBody(body, 1_000_000).then(() => null, (e: HttpError) => e);
      expect(error?.status).toBe(415);
    }
  });
});

describe.skipIf(reason)('rerank server: compressed request bodies', () => {
  let model: CrossEncoder;
  let server: RerankServer;
  let port: number;
  const pairs = bioasqPairs(6);
  const body = JSON.stringify({ query: pairs[0]![0], texts: pairs.map(([, d]) => d) });

  beforeAll(async () => {
    model = await CrossEncoder.load(fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' }), { device: 'cpu' });
    server = new RerankServer(model, { maxPayloadBytes: 4_000_000 });
    ({ port } = await server.listen(0));
  });

  afterAll(async () => {
    await server?.close();
    await model?.dispose();
  });

  /** POSTs raw bytes with a Content-Encoding. */
  function post(bytes: Buffer, encoding: string) {
    return request(port, 'POST', '/rerank', bytes, { 'content-encoding': encoding });
  }

  test('gzip, deflate and br bodies are answered as the plain body', async () => {
    const plain = await request(port, 'POST', '/rerank', body);
    expect(plain.status).toBe(200);
    for (const [encoding, bytes] of [['gzip', zlib.gzipSync(body)], ['deflate', zlib.deflateSync(body)], ['br', zlib.brotliCompressSync(body)]] as const) {
      const reply = await post(bytes, encoding);
      expect(reply.status, encoding).toBe(200);
      expect(reply.body).toEqual(plain.body);
    }
  });

  test('a plain body sent as gzip is 400 (never read as plain); an unknown encoding 415; a bomb 413 at the decoded limit', async () => {
    const mislabelled = await post(Buffer.from(body), 'gzip');
    expect(mislabelled.status).toBe(400);
    expect(mislabelled.body.error).toMatch(/not valid gzip/);
    const unknown = await post(Buffer.from(body), 'compress');
    expect(unknown.status).toBe(415);
    expect(unknown.body.error).toMatch(/gzip, deflate, br/);
    const bomb = await post(gzipBomb(16), 'gzip');
    expect(bomb.status).toBe(413);
    expect(bomb.body.error).toMatch(/decoded payload > limit of 4000000 bytes/);
  });
});
