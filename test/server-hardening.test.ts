// The rerank server against clients that vanish, trickle or never speak, over real loopback
// sockets. Every check counts events (forwards run, pairs scored, requests in flight, connections
// closed, metric counters); none depends on how long anything takes.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { RerankServer, type ServerOptions } from '../lib/server/server';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { gatedModel, metric, rawPost, rawSocket, request, until } from './helpers/server-http';

const reason = modelTestsSkipReason();
if (reason) console.warn(`server hardening tests skipped: ${reason}`);

describe.skipIf(reason)('rerank server: vanishing, slow and silent clients; shutdown', () => {
  /** One pair a forward, so that a request of N texts is N forwards: work left is countable. */
  let slow: CrossEncoder;
  const servers: RerankServer[] = [];
  const pairs = bioasqPairs(40);
  const query = pairs[0][0];
  const texts = pairs.slice(0, 16).map(([, d]) => d);

  async function start(model: CrossEncoder, options: ServerOptions = {}) {
    const server = new RerankServer(model, options);
    servers.push(server);
    const { port } = await server.listen(0);
    let seen = 0;
    server.server.on('request', () => seen++);
    return { server, port, requestsSeen: () => seen };
  }

  beforeAll(async () => {
    slow = await CrossEncoder.load(fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' }), { device: 'cpu', batchSize: 1, cpuThreads: 1 });
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await slow.dispose();
  });

  test('20 clients that send 16 texts each and disconnect: their requests stop, the engine is free for the next one', async () => {
    const { server, port } = await start(slow);
    const before = slow.stats();
    const clients = Array.from({ length: 20 }, () => rawSocket(port));
    await Promise.all(clients.map((c) => c.connected));
    for (const c of clients) c.socket.write(rawPost('/rerank', { query, texts }));
    await until(() => server.inFlightRequests === 20 && slow.stats().forwards > before.forwards, 'all 20 requests scoring');
    for (const c of clients) c.socket.destroy();
    await until(() => server.inFlightRequests === 0, 'the dropped requests to end');
    const scored = slow.stats().pairs - before.pairs;
    const answered = clients.filter((c) => c.received().startsWith('HTTP/1.1 200')).length;
    // At most the forward in progress of each runs on after its client left; the pairs asked for were 320.
    expect(scored).toBeLessThan(320 - 16 * (20 - answered) / 2);
    const metrics = (await request(port, 'GET', '/metrics')).body as string;
    expect(metric(metrics, /te_request_failure\{err="dropped"\}/)).toBe(20 - answered);
    expect(metric(metrics, /te_queue_size/)).toBe(0);
    // The next client's one document is one forward, and its answer.
    const idle = slow.stats();
    const next = await request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 1) });
    expect(next.status).toBe(200);
    expect(slow.stats().forwards - idle.forwards).toBe(1);
    console.log(`disconnect: 20 clients x 16 texts; ${answered} answered before leaving, ${scored} of 320 pairs scored`);
  });

  test('/v1/rerank for a client that left while its pairs waited: no tokenizing for its usage count, no forward', async () => {
    const gated = gatedModel(slow);
    // Counts the tokenizer calls the route makes (usage.total_tokens).
    let encodes = 0;
    const tokenizer = { encodeBatch: (...args: Parameters<typeof slow.tokenizer.encodeBatch>) => (encodes++, slow.tokenizer.encodeBatch(...args)) };
    Object.defineProperty(gated.model, 'tokenizer', { value: tokenizer });
    const { server, port } = await start(gated.model);
    const before = slow.stats();
    const client = rawSocket(port);
    await client.connected;
    client.socket.write(rawPost('/v1/rerank', { query, documents: texts }));
    await until(() => gated.state.waiting === 1, 'the request at the gate');
    client.socket.destroy();
    await until(() => server.openConnections === 0, 'the server to see the client leave');
    gated.open();
    await until(() => server.inFlightRequests === 0, 'the dropped request to end');
    expect(encodes).toBe(0);
    expect(slow.stats().forwards).toBe(before.forwards);
    const metrics = (await request(port, 'GET', '/metrics')).body as string;
    expect(metric(metrics, /te_request_failure\{err="dropped"\}/)).toBe(1);
    // A client that stays gets its usage: one tokenizing pass.
    const kept = await request(port, 'POST', '/v1/rerank', { query, documents: texts.slice(0, 2) });
    expect(kept.status).toBe(200);
    expect(kept.body.usage.total_tokens).toBeGreaterThan(0);
    expect(encodes).toBe(1);
  });

  test('slow bodies hold no slot: with 6 bodies of 16 texts trickling, 32 pair permits still serve two requests of 16', async () => {
    const { server, port, requestsSeen } = await start(slow, { maxConcurrentRequests: 32 });
    const trickling = Array.from({ length: 6 }, () => rawSocket(port));
    for (const c of trickling) c.socket.write(rawPost('/rerank', { query, texts }).slice(0, -10));
    await until(() => requestsSeen() === 6, 'the 6 trickling requests to reach the server');
    expect(server.inFlightRequests).toBe(0);
    const replies = await Promise.all([0, 1].map(() => request(port, 'POST', '/rerank', { query, texts })));
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    // The trickling ones finish their bodies and are served too.
    for (const c of trickling) c.socket.write(rawPost('/rerank', { query, texts }).slice(-10));
    await until(() => trickling.every((c) => /^HTTP\/1\.1 (200|429)/.test(c.received())), 'answers to the trickling requests');
    expect(trickling.filter((c) => c.received().startsWith('HTTP/1.1 200')).length).toBeGreaterThanOrEqual(2);
    for (const c of trickling) c.socket.destroy();
  });

  test('header and request timeouts: silent, half-headers and half-body connections get 408 and are closed', async () => {
    const { server, port } = await start(slow, { headersTimeoutMs: 100, requestTimeoutMs: 200 });
    const silent = rawSocket(port);
    const halfHeaders = rawSocket(port);
    halfHeaders.socket.write('POST /rerank HTTP/1.1\r\nHost: x\r\n');
    const halfBody = rawSocket(port);
    halfBody.socket.write(rawPost('/rerank', { query, texts }).slice(0, -5));
    await Promise.all([silent.closed, halfHeaders.closed, halfBody.closed]);
    for (const c of [silent, halfHeaders, halfBody]) expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(server.inFlightRequests).toBe(0);
    await until(() => server.openConnections === 0, 'the server to drop its side of the connections');
  });

  test('close(): idle, silent and half-sent connections close at once; the request being scored is answered', async () => {
    const gated = gatedModel(slow);
    const { server, port, requestsSeen } = await start(gated.model);
    const keepAlive = rawSocket(port);
    keepAlive.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const silent = rawSocket(port);
    const halfHeaders = rawSocket(port);
    halfHeaders.socket.write('POST /rerank HTTP/1.1\r\nHost: x\r\n');
    const halfBody = rawSocket(port);
    halfBody.socket.write(rawPost('/rerank', { query, texts }).slice(0, -5));
    const scoring = request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 3) });
    await until(() => gated.state.waiting === 1 && requestsSeen() === 3 && /^HTTP\/1\.1 200/.test(keepAlive.received()) && server.openConnections === 5, 'five connections in their states');
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await Promise.all([keepAlive.closed, silent.closed, halfHeaders.closed, halfBody.closed]);
    await until(() => server.openConnections === 1, 'the server to drop its side of the four');
    expect(gated.state.waiting).toBe(1);
    expect(closed).toBe(false);
    gated.open();
    const reply = await scoring;
    expect(reply.status).toBe(200);
    expect(reply.headers.connection).toBe('close');
    await closing;
    await until(() => server.openConnections === 0, 'the last connection to close');
  });

  test('close() past shutdownTimeoutMs: the request still scoring is aborted (503) and its remaining forwards never run', async () => {
    const { server, port } = await start(slow, { shutdownTimeoutMs: 0, maxClientBatchSize: 64 });
    const many = [...texts, ...texts, ...texts, ...texts];
    const before = slow.stats();
    const scoring = request(port, 'POST', '/rerank', { query, texts: many });
    await until(() => server.inFlightRequests === 1 && slow.stats().forwards > before.forwards, 'the request scoring');
    await server.close();
    const reply = await scoring;
    expect(reply.status).toBe(503);
    expect(reply.body.error).toMatch(/shutting down/);
    expect(slow.stats().pairs - before.pairs).toBeLessThan(64);
  });
});
