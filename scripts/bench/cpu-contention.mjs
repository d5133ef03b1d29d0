#!/usr/bin/env node
// Single-pair predict() latency with default load options, quiet and beside one busy process (a
// `node -e 'for(;;){}'` spin loop, started and stopped by this script), in alternating phases of
// one process, so that both phases see the same machine load. Run by scripts/bench/cpu.mjs once
// per OpenMP setting (the setting must be in the environment before libtorch loads).
//
//   node scripts/bench/cpu-contention.mjs MODEL_DIR [--calls N (30)] [--rounds N (3)] [--pair-index I]
// Prints one JSON line: { quietMs: [median a round], busyMs: [...], ratios: [busy/quiet a round] }.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { arg, median, realPairs, require, root } from './common.mjs';

const { CrossEncoder } = require(path.join(root, 'dist', 'index.js'));
const dir = process.argv[2];
const calls = Number(arg('calls', '30'));
const rounds = Number(arg('rounds', '3'));
const { pairs } = realPairs(8);
const pair = pairs[Number(arg('pair-index', '1'))];

const model = await CrossEncoder.load(dir, { device: 'cpu' });

async function phase() {
  const times = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await model.predict(pair);
    times.push(performance.now() - started);
  }
  return median(times);
}

function busyProcess() {
  const child = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  return child;
}

await phase(); // warm-up
const quietMs = [];
const busyMs = [];
for (let round = 0; round < rounds; round++) {
  quietMs.push(await phase());
  const busy = busyProcess();
  await sleep(300); // let it reach its spin loop
  try {
    busyMs.push(await phase());
  } finally {
    busy.kill('SIGKILL');
  }
  await sleep(100);
}
await model.dispose();
const round3 = (x) => Number(x.toFixed(3));
console.log(JSON.stringify({
  threads: model.cpuThreads,
  quietMs: quietMs.map(round3),
  busyMs: busyMs.map(round3),
  ratios: busyMs.map((b, i) => round3(b / quietMs[i])),
}));
