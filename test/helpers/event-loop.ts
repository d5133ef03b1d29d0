/**
 * Counts turns of the event loop (setImmediate callbacks) while `work` runs. A call that held the
 * JS thread until it settled would allow none; one that works off the thread allows a turn
 * whenever the loop is idle. Tests assert on this count, never on durations.
 */
export async function countEventLoopTurns(work: () => Promise<unknown>): Promise<number> {
  const counter = startTurnCounter();
  try {
    await work();
  } finally {
    counter.stop();
  }
  return counter.turns;
}

/** The same count, readable while the work runs (e.g. at the moment texts reach the engine). */
export function startTurnCounter(): { readonly turns: number; stop: () => void } {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return { get turns() { return turns; }, stop: () => { running = false; } };
}
