/**
 * CPU seconds used so far by this process and by its child processes that are still running (the Temporal dev
 * server), read from /proc. CPU per ZIM call is a figure that other load on a shared machine barely changes, unlike
 * calls per second.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function cpuSecondsOf(pid: number): { ppid: number; name: string; seconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name is in parentheses and may hold spaces; the fields after it are space-separated.
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    const [utime, stime] = [Number(fields[11]), Number(fields[12])];
    return { ppid: Number(fields[1]), name, seconds: (utime + stime) / TICKS_PER_SECOND };
  } catch {
    return undefined; // not Linux, or the process ended
  }
}

export interface CpuSnapshot {
  self: number;
  children: Record<string, number>;
}

export function cpuSnapshot(): CpuSnapshot {
  const children: Record<string, number> = {};
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    const p = cpuSecondsOf(Number(entry));
    if (p?.ppid === process.pid) children[p.name] = (children[p.name] ?? 0) + p.seconds;
  }
  const own = process.cpuUsage();
  return { self: (own.user + own.system) / 1e6, children };
}

/** CPU milliseconds per unit of work between two snapshots, for this process and each child by name. */
export function cpuMsPer(units: number, from: CpuSnapshot, to: CpuSnapshot): Record<string, number> {
  const out: Record<string, number> = { worker: ((to.self - from.self) * 1000) / units };
  for (const [name, seconds] of Object.entries(to.children))
    out[name] = ((seconds - (from.children[name] ?? 0)) * 1000) / units;
  return out;
}
