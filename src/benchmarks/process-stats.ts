/**
 * CPU time and resident memory of other processes, read from /proc (Linux), so a benchmark can say which process
 * used the cores: the Temporal dev server, the worker(s), or the benchmark itself (the emulator runs in it).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // Linux's usual USER_HZ
    }
  }
  return ticksPerSecond;
}

/** The fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  // utime and stime are fields 14 and 15 of stat; the slice starts at field 3 (state).
  return (Number(f[11]) + Number(f[12])) / clockTicks();
}

/** Resident set now (VmRSS) and at its peak (VmHWM), in bytes; null once the process has ended. */
export function memoryOf(pid: number): { rssBytes: number; peakBytes: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const bytes = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return { rssBytes: bytes('VmRSS'), peakBytes: bytes('VmHWM') };
  } catch {
    return null;
  }
}

/** The Temporal dev server this process started (0 when there is none). */
export function devServerPid(): number {
  return childPids(process.pid, 'temporal')[0] ?? 0;
}

/**
 * CPU seconds of a server that forks a process per connection (PostgreSQL): its own, its children's that have
 * ended (the kernel adds them to the parent's), and its live children's. Read it at two moments: a child's time
 * moves from live to ended when it exits, so the difference counts every connection's work once.
 */
export function processTreeCpuSeconds(pid: number): number {
  const f = statFields(pid);
  // cutime and cstime (fields 16 and 17): children that ended and were waited for.
  const ended = (Number(f[13]) + Number(f[14])) / clockTicks();
  return childPids(pid).reduce(
    (sum, child) => {
      try {
        return sum + cpuSeconds(child);
      } catch {
        return sum; // it ended while we looked
      }
    },
    cpuSeconds(pid) + ended
  );
}

/** Child processes of `parent` (whose command name is `comm`, when given). */
function childPids(parent: number, comm?: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if ((comm === undefined || name === comm) && Number(statFields(Number(entry))[1]) === parent)
        pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * CPU seconds used by each named process between `start()` and `stop()`, and the share of one core that is. A
 * function instead of a pid reads the seconds itself (e.g. `processTreeCpuSeconds`).
 */
export function cpuMeter(pids: Readonly<Record<string, number | 'self' | (() => number)>>) {
  const read = () =>
    Object.fromEntries(
      Object.entries(pids).map(([name, pid]) => {
        if (pid === 'self') {
          const u = process.cpuUsage();
          return [name, (u.user + u.system) / 1e6];
        }
        try {
          return [name, typeof pid === 'function' ? pid() : cpuSeconds(pid)];
        } catch {
          return [name, Number.NaN]; // it has exited
        }
      })
    );
  const startedAt = Date.now();
  const before = read();
  return {
    stop() {
      const after = read();
      const seconds = (Date.now() - startedAt) / 1000;
      return Object.entries(after).map(([name, cpu]) => ({
        name,
        cpuSeconds: cpu - before[name]!,
        cores: (cpu - before[name]!) / seconds,
      }));
    },
  };
}

export type CpuUse = ReturnType<ReturnType<typeof cpuMeter>['stop']>;

export function renderCpuUse(use: CpuUse): string {
  return use.map((u) => `${u.name} ${u.cpuSeconds.toFixed(0)} s = ${u.cores.toFixed(2)} cores`).join(', ');
}

/** The 1, 5 and 15 minute load averages, e.g. "2.10 1.85 1.60": how busy the shared machine was. */
export function loadAverageText(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** Each live thread's CPU seconds by thread id, with its name (comm); empty when /proc cannot be read. */
function threadCpu(pid: number): Map<number, { name: string; seconds: number }> {
  const threads = new Map<number, { name: string; seconds: number }>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        threads.set(Number(tid), { name, seconds: (Number(f[11]) + Number(f[12])) / clockTicks() });
      } catch {
        // the thread ended between the listing and the read
      }
    }
  } catch {
    // the process ended
  }
  return threads;
}

/**
 * A worker process's CPU between `start()` and `stop()` by thread: the main thread (activities, the SDK's bridge
 * to its core, HTTP, SQLite), the busiest other Node thread (the workflow thread, where workflow code runs), the
 * SDK core's Rust threads (tokio-runtime-w), the other threads (V8's GC helpers, libuv), and threads that ended in
 * between (the process's total minus its live threads': e.g. the watchdog thread Node starts for every call into a
 * vm context with a timeout, which is how the SDK runs workflow code).
 */
export function threadCpuMeter(pid: number) {
  const before = threadCpu(pid);
  const totalBefore = cpuSeconds(pid);
  return {
    stop(): { name: string; seconds: number }[] {
      const after = threadCpu(pid);
      let total: number;
      try {
        total = cpuSeconds(pid) - totalBefore;
      } catch {
        return [];
      }
      const used = [...after].map(([tid, t]) => ({
        tid,
        name: t.name,
        seconds: t.seconds - (before.get(tid)?.seconds ?? 0),
      }));
      const main = used.find((t) => t.tid === pid);
      const nodeThreads = used
        .filter((t) => t.tid !== pid && !t.name.startsWith('tokio'))
        .sort((a, b) => b.seconds - a.seconds);
      const sum = (ts: typeof used) => ts.reduce((s, t) => s + t.seconds, 0);
      const groups = [
        { name: 'main thread', seconds: main?.seconds ?? 0 },
        { name: 'workflow thread', seconds: nodeThreads[0]?.seconds ?? 0 },
        { name: 'core (Rust)', seconds: sum(used.filter((t) => t.name.startsWith('tokio'))) },
        { name: 'other threads', seconds: sum(nodeThreads.slice(1)) },
      ];
      return [...groups, { name: 'ended threads', seconds: Math.max(0, total - sum(used)) }];
    },
  };
}
