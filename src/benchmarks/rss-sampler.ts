/**
 * Samples one process's resident memory every few seconds and summarises the series, so "flat, not growing" over a
 * long run is shown or refuted by a slope rather than by two readings.
 */
import { memoryOf } from './process-stats';

export interface RssSample {
  /** Seconds since sampling began. */
  t: number;
  bytes: number;
}

export function sampleRss(pid: number, everyMs: number) {
  const samples: RssSample[] = [];
  const startedAt = Date.now();
  const take = () => {
    try {
      samples.push({ t: (Date.now() - startedAt) / 1000, bytes: memoryOf(pid)?.rssBytes ?? 0 });
    } catch {
      // the process has exited; the series ends here
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop(): RssSample[] {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** Least-squares slope in MB per minute. */
function slopeMbPerMinute(s: readonly RssSample[]): number {
  if (s.length < 2) return 0;
  const mt = s.reduce((a, x) => a + x.t, 0) / s.length;
  const mb = s.reduce((a, x) => a + x.bytes, 0) / s.length;
  const cov = s.reduce((a, x) => a + (x.t - mt) * (x.bytes - mb), 0);
  const varT = s.reduce((a, x) => a + (x.t - mt) ** 2, 0);
  return varT === 0 ? 0 : ((cov / varT) * 60) / 2 ** 20;
}

export function summariseRss(samples: readonly RssSample[]) {
  const mb = (s: RssSample | undefined) => (s ? s.bytes / 2 ** 20 : Number.NaN);
  const max = samples.reduce((m, s) => Math.max(m, s.bytes), 0);
  return {
    samples: samples.length,
    seconds: samples[samples.length - 1]?.t ?? 0,
    startMb: mb(samples[0]),
    middleMb: mb(samples[Math.floor(samples.length / 2)]),
    endMb: mb(samples[samples.length - 1]),
    maxMb: max / 2 ** 20,
    slopeMbPerMin: slopeMbPerMinute(samples),
    /** The first half includes start-up (workflow bundle, caches filling); the second half is the steady state. */
    secondHalfSlopeMbPerMin: slopeMbPerMinute(samples.slice(Math.floor(samples.length / 2))),
  };
}

export function renderRss(r: ReturnType<typeof summariseRss>): string {
  return (
    `${r.samples} samples over ${r.seconds.toFixed(0)} s: start ${r.startMb.toFixed(0)} MB, middle ` +
    `${r.middleMb.toFixed(0)} MB, end ${r.endMb.toFixed(0)} MB, max ${r.maxMb.toFixed(0)} MB; slope ` +
    `${r.slopeMbPerMin.toFixed(2)} MB/min over the run, ${r.secondHalfSlopeMbPerMin.toFixed(2)} MB/min over its second half`
  );
}
