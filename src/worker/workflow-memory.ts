/**
 * The worker's memory. Workflows run in one worker thread (the SDK's reusable V8 context) whose heap limit V8 sizes
 * from the machine's memory (4 GB on a 24 GB machine): with that much room it collects late, and the process's RSS
 * climbed through every fan-out stage (874 MB at 3,000 users, docs/benchmarks.md). What is alive there is bounded
 * by the fan-out windows (finished workflows leave the cache), so a fixed heap bounds this thread's share of RSS
 * whatever the migration's size. The SDK derives its default workflow cache from the heap limit too, so the cache is
 * sized here from the heap.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';

/** The workflow thread's heap by default (ZIM_MIGRATE_WORKFLOW_HEAP_MB). */
export const DEFAULT_WORKFLOW_HEAP_MB = 256;

/**
 * Workflows the cache may hold per MB of heap: about 170 running children and stages kept 27-31 MB alive after a
 * full collection (docs/benchmarks.md, "Worker memory"), about 0.2 MB each; 3 per MB leaves room for garbage.
 */
const CACHED_WORKFLOWS_PER_MB = 3;

/** Workflow task slots: a stage's window of 200 children, the stages and the migration (migration-worker.ts). */
const WORKFLOW_TASK_SLOTS = 250;

export interface WorkflowMemorySettings {
  maxCachedWorkflows: number;
  maxConcurrentWorkflowTaskExecutions: number;
}

/** The workflow cache and task slots a heap of `heapMb` holds. */
export function workflowMemorySettings(heapMb: number): WorkflowMemorySettings {
  const maxCachedWorkflows = Math.max(heapMb * CACHED_WORKFLOWS_PER_MB, 2);
  return {
    maxCachedWorkflows,
    // The SDK lowers the slots to the cache size otherwise, with a warning.
    maxConcurrentWorkflowTaskExecutions: Math.min(WORKFLOW_TASK_SLOTS, maxCachedWorkflows),
  };
}

/**
 * Sets the heap limit of V8 isolates created from now on, so call it before Worker.create starts the workflow
 * thread. The process's main thread keeps its own (set with node --max-old-space-size).
 */
export function limitWorkflowHeap(heapMb: number): void {
  setFlagsFromString(`--max-old-space-size=${heapMb}`);
}

/**
 * Runs `create` (Worker.create, which starts the workflow thread) with the workflow heap limit, then gives threads
 * started later (export parsing in worker threads, another worker's) the main thread's limit back, so a large
 * parse in the same process is not held to the workflow thread's heap.
 */
export async function withWorkflowHeap<T>(heapMb: number, create: () => Promise<T>): Promise<T> {
  const mainMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
  limitWorkflowHeap(heapMb);
  try {
    return await create();
  } finally {
    limitWorkflowHeap(mainMb);
  }
}
