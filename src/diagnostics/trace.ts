/** Phase timings on stderr when ZIM_MIGRATE_TRACE=1 (the benchmark uses it to show where time goes). */
const enabled = process.env.ZIM_MIGRATE_TRACE === '1';
let last = Date.now();

export function tracePhase(name: string): void {
  if (!enabled) return;
  const now = Date.now();
  const rss = Math.round(process.memoryUsage.rss() / 1e6);
  // The process's high-water mark so far: shows in which phase the peak was reached.
  const peak = Math.round((process.resourceUsage().maxRSS * 1024) / 1e6);
  process.stderr.write(`trace ${name}: ${now - last} ms (rss ${rss} MB, peak so far ${peak} MB)\n`);
  last = now;
}
