/**
 * Two settings keep a worker's memory flat, and both are read only when its process starts, so they belong in the
 * environment of whoever starts a worker: the product's own spawners add them here, deployments set them
 * (docker-compose.yml, docs/operations.md "Worker memory").
 *
 * - glibc's malloc raises its mmap threshold each time a large block it had mmapped is freed (up to 32 MB), so after
 *   a while a worker's large short-lived blocks (HTTP bodies, SQLite results, V8's compiler zones) come from the brk
 *   heap, which keeps every page it ever grew to: in a real-shaped migration the heap segment reached 217-331 MB of
 *   which about 270 MB was free, and RSS 880 MB. A fixed threshold keeps those blocks mmapped, given back when
 *   freed. Other C libraries ignore the variable.
 * - V8 sizes the main thread's heap from the machine's memory (4 GB here) and lets garbage pile up to a fraction of
 *   that before it collects: 71-77 MB were alive when the heap held 280 MB. 256 MB bounds it.
 * With both, the worker stayed under 460 MB at 50,000 users (docs/benchmarks.md, "Worker memory: the native part").
 */

export const MALLOC_MMAP_THRESHOLD_ENV = 'MALLOC_MMAP_THRESHOLD_';
/** glibc's own starting threshold (128 KiB), kept fixed. */
export const WORKER_MMAP_THRESHOLD = '131072';
/** The main thread's old-generation limit (MB) for workers. */
export const WORKER_MAIN_HEAP_MB = 256;

/** `env` with the worker's memory settings, keeping any the caller set (a heap limit already in NODE_OPTIONS wins). */
export function withWorkerMemory(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  out[MALLOC_MMAP_THRESHOLD_ENV] ??= WORKER_MMAP_THRESHOLD;
  const nodeOptions = out.NODE_OPTIONS ?? '';
  if (!/--max-old-space-size\b/.test(nodeOptions))
    out.NODE_OPTIONS = `${nodeOptions} --max-old-space-size=${WORKER_MAIN_HEAP_MB}`.trim();
  return out;
}

/** A line for a worker's start when its process runs without the malloc setting on Linux (glibc), else undefined. */
export function mallocHint(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string | undefined {
  if (platform !== 'linux' || env[MALLOC_MMAP_THRESHOLD_ENV] !== undefined) return undefined;
  return (
    `memory: ${MALLOC_MMAP_THRESHOLD_ENV} is not set; start workers with ${MALLOC_MMAP_THRESHOLD_ENV}=` +
    `${WORKER_MMAP_THRESHOLD} and NODE_OPTIONS=--max-old-space-size=${WORKER_MAIN_HEAP_MB} to keep their memory ` +
    `flat (docs/operations.md)`
  );
}
