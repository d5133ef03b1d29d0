#!/usr/bin/env node
// npm run bench:concurrency: a server's load on one model: 64 concurrent callers, each sending
// requests of 1-8 pairs one after another. Throughput and per-request latency (p50/p99) with
// shared batches (concurrent calls merged into common forwards) against without, in alternating
// rounds; then the same callers while one large call (1,000 pairs) runs, to show that it does
// not starve them.
//
//   options: --callers N (64)  --requests N per caller (3)  --rounds N (3)  --model small|biomedbert-base
//            --device cpu|cuda
import path from 'node:path';
import { arg, benchModel, median, seededRandom, percentile, realPairs, require, root, writeResult } from './common.mjs';

const { CrossEncoder, runtimeInfo } = require(path.join(root, 'dist', 'index.js'));

const callers = Number(arg('callers', '64'));
const requests = Number(arg('requests', '3'));
const rounds = Number(arg('rounds', '3'));
const which = arg('model', 'small');
const device = arg('device', 'cpu');
const dir = which === 'biomedbert-base'
  ? benchModel('biomedbert-base-random', { config: 'biomedbert-base' })
  : benchModel('small-random', { config: path.join(root, 'scripts', 'bench', 'small-bert-config.json') });
const { source, pairs } = realPairs(2000);

// The same request sizes and pairs in every round (a seeded LCG), so configurations compare.
const random = seededRandom(7);
const plan = Array.from({ length: callers }, () =>
  Array.from({ length: requests }, () => {
    const size = 1 + Math.floor(random() * 8);
    const start = Math.floor(random() * (pairs.length - size));
    return pairs.slice(start, start + size);
  }));
const totalPairs = plan.flat().reduce((n, r) => n + r.length, 0);

async function wave(model) {
  const latencies = [];
  const started = performance.now();
  await Promise.all(plan.map(async (callerRequests) => {
    for (const request of callerRequests) {
      const t = performance.now();
      await model.predict(request);
      latencies.push(performance.now() - t);
    }
  }));
  return { ms: performance.now() - started, latencies };
}

function summarize(results, statsBefore, statsAfter) {
  const ms = median(results.map((r) => r.ms));
  const latencies = results.flatMap((r) => r.latencies);
  const tokens = statsAfter.tokens - statsBefore.tokens;
  const padded = statsAfter.paddedTokens - statsBefore.paddedTokens;
  return {
    pairsPerSec: Number(((totalPairs / ms) * 1000).toFixed(2)),
    latencyMs: { p50: Number(percentile(latencies, 50).toFixed(1)), p99: Number(percentile(latencies, 99).toFixed(1)) },
    forwardsPerRound: Math.round((statsAfter.forwards - statsBefore.forwards) / results.length),
    sharedForwardsPerRound: Math.round((statsAfter.sharedForwards - statsBefore.sharedForwards) / results.length),
    paddingWaste: Number((1 - tokens / padded).toFixed(4)),
    roundsMs: results.map((r) => Number(r.ms.toFixed(0))),
  };
}

const shared = await CrossEncoder.load(dir, { device, shareBatches: true });
const separate = await CrossEncoder.load(dir, { device, shareBatches: false });
await wave(shared); // warm-up, not counted
await wave(separate);
const runs = { shared: [], separate: [] };
const before = { shared: shared.stats(), separate: separate.stats() };
for (let round = 0; round < rounds; round++) {
  runs.shared.push(await wave(shared));
  runs.separate.push(await wave(separate));
  console.error(`round ${round + 1}: shared ${runs.shared.at(-1).ms.toFixed(0)} ms, separate ${runs.separate.at(-1).ms.toFixed(0)} ms`);
}
const withSharing = summarize(runs.shared, before.shared, shared.stats());
const withoutSharing = summarize(runs.separate, before.separate, separate.stats());

// Starvation: the same callers while one large call is in flight on the shared model.
const large = pairs.slice(0, 1000);
const beforeLarge = shared.stats();
const t = performance.now();
const largeCall = shared.predict(large).then(() => performance.now() - t);
const smallWave = await wave(shared);
const largeMs = await largeCall;
const underLoad = summarize([smallWave], beforeLarge, shared.stats());

const info = runtimeInfo();
writeResult('concurrency', {
  model: `${which} (random weights)`,
  device: shared.device,
  libtorch: `${info.libtorch.version} (${info.libtorch.source})`,
  data: source,
  callers,
  requestsPerCaller: requests,
  pairsPerRound: totalPairs,
  rounds,
  shared: withSharing,
  separate: withoutSharing,
  throughputRatio: Number((withSharing.pairsPerSec / withoutSharing.pairsPerSec).toFixed(3)),
  withLargeCallInFlight: { largeCallPairs: large.length, largeCallMs: Number(largeMs.toFixed(0)), smallCallers: { latencyMs: underLoad.latencyMs, wallMs: Number(smallWave.ms.toFixed(0)) } },
});
await shared.dispose();
await separate.dispose();
