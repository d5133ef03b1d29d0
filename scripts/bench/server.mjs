#!/usr/bin/env node
// npm run bench:server: HTTP rerank servers under N concurrent clients, each sending TEI /rerank
// requests of 1-16 documents one after another (keep-alive). Our RerankServer with shared batches
// on and off, against the server a Node user would write with onnxruntime-node (one session.run per
// request), on the same weights, in alternating rounds. Requests/s, pairs/s, p50/p99 latency.
//
//   options: --clients N (64)  --requests N per client (3)  --rounds N (3)  --threads N (cores)
import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { arg, benchModel, median, seededRandom, percentile, realPairs, root, writeResult } from './common.mjs';

const clients = Number(arg('clients', '64'));
const requestsPerClient = Number(arg('requests', '3'));
const rounds = Number(arg('rounds', '3'));
const threads = Number(arg('threads', String(os.availableParallelism())));
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

const servers = {
  'ours (shared batches)': ['tce-rerank-server.mjs', 'share'],
  'ours (no shared batches)': ['tce-rerank-server.mjs', 'separate'],
  'onnxruntime-node server': ['ort-rerank-server.mjs', String(threads)],
};

/** Starts a server child on a free port; resolves with it and its port. */
async function startServer([script, mode]) {
  const child = fork(path.join(root, 'scripts', 'bench', script), [dir, '0', mode], { stdio: 'inherit' });
  const port = await new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, port };
}

function post(agent, port, body) {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/rerank', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks))) : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks)}`))));
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
writeResult('server', {
  setup: { clients, requestsPerClient, documentsPerRequest: '1-16', totalPairs, rounds, threads, model: 'small random BERT (scripts/bench/small-bert-config.json), same weights in model.pt and model.onnx', pairs: source },
  servers: summary,
  ratios: {
    sharedVsOnnxruntimePairsPerSec: Number((summary['ours (shared batches)'].pairsPerSec / peer.pairsPerSec).toFixed(2)),
    sharedVsSeparatePairsPerSec: Number((summary['ours (shared batches)'].pairsPerSec / summary['ours (no shared batches)'].pairsPerSec).toFixed(2)),
    sharedVsOnnxruntimeP99: Number((summary['ours (shared batches)'].p99Ms / peer.p99Ms).toFixed(2)),
  },
});
