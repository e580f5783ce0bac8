/**
 * ZIM_BENCH_OLD_CPU_PATH=1 puts back the per-call code paths that issue #17 replaced (the call schedule's JSON send
 * log and its second transaction, lossless-json on every answer, a sqlite_master scan per call-gate check), so that
 * `npm run bench:migration -- --mode ceiling --paths old,new` compares their CPU per ZIM call in one run. A
 * measurement device only: nothing sets it outside that benchmark.
 */
export const OLD_CPU_PATH = process.env.ZIM_BENCH_OLD_CPU_PATH === '1';
export const OLD_CPU_PATH_ENV = 'ZIM_BENCH_OLD_CPU_PATH';
