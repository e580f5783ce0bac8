/**
 * glibc's malloc raises its mmap threshold each time a large block it had mmapped is freed (up to 32 MB), so after a
 * while a worker's large short-lived blocks (HTTP bodies, SQLite results, V8's compiler zones) come from the brk
 * heap, and the heap keeps every page it ever grew to: in a real-shaped migration the worker's heap segment reached
 * 217-331 MB of which about 270 MB was free, and RSS 880 MB (docs/benchmarks.md, "Worker memory: the native part").
 * A fixed threshold keeps those blocks mmapped, given back when freed. glibc reads it once, when the process starts,
 * so it belongs in the environment of whoever starts a worker: the product's own spawners add it here, deployments
 * set it (docker-compose.yml, docs/operations.md). Other C libraries ignore the variable.
 */

export const MALLOC_MMAP_THRESHOLD_ENV = 'MALLOC_MMAP_THRESHOLD_';
/** glibc's own starting threshold (128 KiB), kept fixed. */
export const WORKER_MMAP_THRESHOLD = '131072';

/** `env` with the worker's malloc setting, unless it sets one already. */
export function withWorkerMalloc(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env[MALLOC_MMAP_THRESHOLD_ENV] === undefined
    ? { ...env, [MALLOC_MMAP_THRESHOLD_ENV]: WORKER_MMAP_THRESHOLD }
    : env;
}

/** A line for a worker's start when its process runs without the setting on Linux (glibc), else undefined. */
export function mallocHint(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string | undefined {
  if (platform !== 'linux' || env[MALLOC_MMAP_THRESHOLD_ENV] !== undefined) return undefined;
  return (
    `memory: ${MALLOC_MMAP_THRESHOLD_ENV} is not set; start workers with ${MALLOC_MMAP_THRESHOLD_ENV}=` +
    `${WORKER_MMAP_THRESHOLD} (and NODE_OPTIONS=--max-old-space-size=256) to keep their memory flat (docs/operations.md)`
  );
}
