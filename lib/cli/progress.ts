/**
 * A one-line progress report on a terminal (stderr): pairs done, pairs/s and, when the size of
 * the input is known, percent and ETA. Nothing at all when stderr is not a terminal.
 */
export class Progress {
  private readonly started = performance.now();
  private lastDraw = 0;
  private readonly enabled: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, enabled = Boolean(process.stderr.isTTY)) {
    this.enabled = enabled;
  }

  /** `fraction`: share of the input read (0..1), or null when unknown (stdin). */
  update(pairs: number, fraction: number | null, force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? pairs / seconds : 0;
    let line = `${pairs.toLocaleString('en-US')} pairs  ${rate.toFixed(1)} pairs/s`;
    if (fraction !== null && fraction > 0) {
      const eta = seconds * (1 - fraction) / fraction;
      line = `${(fraction * 100).toFixed(1).padStart(5)}%  ${line}  ETA ${formatSeconds(eta)}`;
    }
    this.stream.write(`\r${line}\x1b[K`);
  }

  done(pairs: number): void {
    if (!this.enabled) return;
    this.update(pairs, null, true);
    this.stream.write('\n');
  }
}

function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}
