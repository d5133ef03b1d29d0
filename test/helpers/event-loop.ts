/** Watches the event loop while `work` runs: how often a 5 ms timer fired and its longest gap. */
export async function watchEventLoop(work: () => Promise<unknown>): Promise<{ ticks: number; longestGapMs: number }> {
  let ticks = 0;
  let longestGapMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    ticks++;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return { ticks, longestGapMs };
}
