import { z } from 'zod';

/**
 * How long a workflow task waits on a worker's sticky queue before any worker may take it. The SDK's 10 s default
 * is what a SIGKILLed worker's workflows lost: for about 10 s after its last poll the server still hands their next
 * tasks to its sticky queue, and each waited there 10 s before going to the shared queue (issue #17). A live worker
 * takes a sticky task in milliseconds, so a short timeout costs nothing but a full-history replay when a worker is
 * starved for longer than it. ZIM_BENCH_STICKY_TIMEOUT (e.g. 10s) sets another for a measurement.
 */
export const stickyQueueTimeout = (): string =>
  z
    .string()
    .regex(/^\d+(ms|s)$/, 'ZIM_BENCH_STICKY_TIMEOUT: a duration such as 10s or 500ms')
    .default('3s')
    .parse(process.env.ZIM_BENCH_STICKY_TIMEOUT);
