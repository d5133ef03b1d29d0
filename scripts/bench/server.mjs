#!/usr/bin/env node
// npm run bench:server: HTTP rerank servers under N concurrent clients, each sending TEI /rerank
// requests of 1-16 documents one after another (keep-alive). Our RerankServer with shared batches
// on and off, against the server a Node user would write with onnxruntime-node (one session.run per
// request), on the same weights, in alternating rounds. Requests/s, pairs/s, p50/p99 latency.
//
// Then long documents under load (our server, shared batches): the same short requests from
// --clients minus --long-clients clients, alone and then beside --long-clients clients that each
// send --long-requests /rerank requests of two documents of 4 PubMed abstracts each (about 6
// windows of 512 tokens a request) with long_documents "max", one after another, starting with
// the short ones. The short requests' p99 with the long ones over their p99 alone (same server, in
// each round) is the cost long documents put on everyone else. Answers other than 200 (429 when
// windows take the permits, 503 past the request timeout) are counted, not retried.
//
//   options: --clients N (64)  --requests N per client (3)  --rounds N (3)  --threads N (cores)
//            --long-clients N (8)  --long-requests N per long client (2)
//            --only mixed (just the long-document load test)
import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { abstractPairs, arg, benchModel, median, seededRandom, percentile, realPairs, root, writeResult } from './common.mjs';

const clients = Number(arg('clients', '64'));
const requestsPerClient = Number(arg('requests', '3'));
const rounds = Number(arg('rounds', '3'));
const threads = Number(arg('threads', String(os.availableParallelism())));
const longClients = Number(arg('long-clients', '8'));
const longRequestsPerClient = Number(arg('long-requests', '2'));
const only = arg('only', 'all');
const dir = benchModel('small-random', { config: path.join(root, 'scripts', 'bench', 'small-bert-config.json'), onnx: true });
const { source, pairs } = realPairs(2000);

// The same requests in every round (a seeded LCG): a query and 1-16 documents.
const random = seededRandom(11);
const plan = Array.from({ length: clients }, () =>
  Array.from({ length: requestsPerClient }, () => {
    const size = 1 + Math.floor(random() * 16);
    const start = Math.floor(random() * (pairs.length - size));
    return { query: pairs[start][0], texts: pairs.slice(start, start + size).map(([, d]) => d) };
  }));
const totalPairs = plan.flat().reduce((n, r) => n + r.texts.length, 0);

// A request may wait long on a loaded machine: the benchmark measures it rather than time it out.
const servers = {
  'ours (shared batches)': ['tce-rerank-server.mjs', 'share', { requestTimeoutMs: 600_000 }],
  'ours (no shared batches)': ['tce-rerank-server.mjs', 'separate', { requestTimeoutMs: 600_000 }],
  'onnxruntime-node server': ['ort-rerank-server.mjs', String(threads)],
};

/** Server children still running: killed if this process ends first (a failed round). */
const children = new Set();
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));

/** Starts a server child on a free port; resolves with it and its port. */
async function startServer([script, mode, options]) {
  const child = fork(path.join(root, 'scripts', 'bench', script), [dir, '0', mode, ...(options ? [JSON.stringify(options)] : [])], { stdio: 'inherit' });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const port = await new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, port };
}

function post(agent, port, body, { allowRefusal = false } = {}) {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/rerank', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 200) resolve(JSON.parse(Buffer.concat(chunks)));
        else if (allowRefusal && (res.statusCode === 429 || res.statusCode === 503)) resolve(res.statusCode);
        else reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks)}`));
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

async function wave(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latencies = [];
  const started = performance.now();
  await Promise.all(plan.map(async (requests) => {
    for (const request of requests) {
      const t = performance.now();
      const ranked = await post(agent, port, request);
      if (ranked.length !== request.texts.length) throw new Error('a response lost documents');
      latencies.push(performance.now() - t);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { seconds, latencies };
}

/**
 * The long-document load test: the first clients - longClients clients' short requests, alone
 * and beside longClients clients sending long-document requests until the short ones are done.
 */
async function mixedRounds() {
  const shortPlan = plan.slice(0, clients - longClients);
  const { pairs: long } = abstractPairs(64);
  const longRequests = Array.from({ length: 16 }, (_, i) => ({
    query: long[i][0],
    texts: [0, 1].map((k) => long.slice((i * 2 + k) * 4 % 60, (i * 2 + k) * 4 % 60 + 4).map(([, d]) => d).join('\n')),
    long_documents: 'max',
  }));
  async function phase(port, withLong) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
    const latencies = [];
    const shortRefused = { 429: 0, 503: 0 };
    const longStats = { answered: 0, refused: { 429: 0, 503: 0 } };
    const longLoad = withLong ? Array.from({ length: longClients }, async (_, c) => {
      for (let k = 0; k < longRequestsPerClient; k++) {
        const ranked = await post(agent, port, longRequests[(c * longRequestsPerClient + k) % longRequests.length], { allowRefusal: true });
        if (typeof ranked === 'number') longStats.refused[ranked]++;
        else longStats.answered++;
      }
    }) : [];
    await Promise.all([...longLoad, ...shortPlan.map(async (requests) => {
      for (const request of requests) {
        const t = performance.now();
        const ranked = await post(agent, port, request, { allowRefusal: true });
        if (typeof ranked === 'number') shortRefused[ranked]++;
        else latencies.push(performance.now() - t);
      }
    })]);
    agent.destroy();
    return { p99: percentile(latencies, 99), p50: percentile(latencies, 50), shortRefused, ...longStats };
  }
  const out = { alone: [], withLong: [] };
  for (let round = 0; round <= rounds; round++) {
    const { child, port } = await startServer(['tce-rerank-server.mjs', 'share', { maxConcurrentRequests: 4096, requestTimeoutMs: 600_000 }]);
    await phase(port, false); // warm-up
    const alone = await phase(port, false);
    const withLong = await phase(port, true);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    console.error(`mixed round ${round}: short p99 alone ${alone.p99.toFixed(0)} ms, beside long documents ${withLong.p99.toFixed(0)} ms (${withLong.answered} long answered, refused ${JSON.stringify(withLong.refused)})`);
    if (round === 0) continue;
    out.alone.push(alone);
    out.withLong.push(withLong);
  }
  const p99Alone = median(out.alone.map((r) => r.p99));
  const p99WithLong = median(out.withLong.map((r) => r.p99));
  return {
    setup: {
      shortClients: clients - longClients, longClients, shortRequestsPerClient: requestsPerClient, shortDocumentsPerRequest: '1-16',
      longRequestsPerClient, longRequest: 'two documents of 4 PubMed abstracts each, long_documents "max"', maxConcurrentRequests: 4096, requestTimeoutMs: 600_000, rounds,
    },
    shortP50MsAlone: Number(median(out.alone.map((r) => r.p50)).toFixed(1)),
    shortP99MsAlone: Number(p99Alone.toFixed(1)),
    shortP50MsWithLong: Number(median(out.withLong.map((r) => r.p50)).toFixed(1)),
    shortP99MsWithLong: Number(p99WithLong.toFixed(1)),
    shortP99RatioWithLongVsAlone: Number((p99WithLong / p99Alone).toFixed(2)),
    longRequestsAnswered: out.withLong.map((r) => r.answered),
    longRequestsRefused: out.withLong.map((r) => r.refused),
    shortRequestsRefusedAlone: out.alone.map((r) => r.shortRefused),
    shortRequestsRefusedWithLong: out.withLong.map((r) => r.shortRefused),
  };
}

if (only === 'mixed') {
  writeResult('server-long-documents', { mixedLongDocuments: await mixedRounds() });
  process.exit(0);
}

const results = Object.fromEntries(Object.keys(servers).map((name) => [name, { seconds: [], p50: [], p99: [] }]));
for (let round = 0; round <= rounds; round++) {
  for (const [name, spec] of Object.entries(servers)) {
    console.error(`round ${round}: ${name} ...`);
    const { child, port } = await startServer(spec);
    await wave(port); // warm-up wave on a fresh server: first forwards, allocator, JIT
    const { seconds, latencies } = await wave(port);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    if (round === 0) continue; // round 0 warms the machine up
    results[name].seconds.push(seconds);
    results[name].p50.push(percentile(latencies, 50));
    results[name].p99.push(percentile(latencies, 99));
    console.error(`round ${round}: ${name}: ${(totalPairs / seconds).toFixed(0)} pairs/s, p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`);
  }
}

const summary = Object.fromEntries(Object.entries(results).map(([name, r]) => {
  const seconds = median(r.seconds);
  return [name, {
    requestsPerSec: Number((clients * requestsPerClient / seconds).toFixed(1)),
    pairsPerSec: Number((totalPairs / seconds).toFixed(1)),
    p50Ms: Number(median(r.p50).toFixed(1)),
    p99Ms: Number(median(r.p99).toFixed(1)),
    roundsSeconds: r.seconds.map((s) => Number(s.toFixed(2))),
  }];
}));
const peer = summary['onnxruntime-node server'];
const mixedLongDocuments = await mixedRounds();
writeResult('server', {
  setup: { clients, requestsPerClient, documentsPerRequest: '1-16', totalPairs, rounds, threads, model: 'small random BERT (scripts/bench/small-bert-config.json), same weights in model.pt and model.onnx', pairs: source },
  servers: summary,
  ratios: {
    sharedVsOnnxruntimePairsPerSec: Number((summary['ours (shared batches)'].pairsPerSec / peer.pairsPerSec).toFixed(2)),
    sharedVsSeparatePairsPerSec: Number((summary['ours (shared batches)'].pairsPerSec / summary['ours (no shared batches)'].pairsPerSec).toFixed(2)),
    sharedVsOnnxruntimeP99: Number((summary['ours (shared batches)'].p99Ms / peer.p99Ms).toFixed(2)),
  },
  mixedLongDocuments,
});
