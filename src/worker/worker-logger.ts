/**
 * The worker's log: the SDK's, at `level` and above, less one warning that our design makes routine. Message
 * imports run as local activities inside a workflow task that stays open up to 8 s (see
 * workflows/activity-options.ts); the SDK's core warns about every task longer than 5 s (TMPRL1104), which would be
 * one line per owner every 8 s. Core's own log is forwarded to this logger (by default core prints to stderr by
 * itself, past any filter of ours).
 */
import { DefaultLogger, Runtime, type LogEntry, type LogLevel, type LogMetadata } from '@temporalio/worker';

const ROUTINE = 'TMPRL1104';

export class WorkerLogger extends DefaultLogger {
  constructor(level: LogLevel, write?: (entry: LogEntry) => void) {
    super(level, write);
  }

  override log(at: LogLevel, message: string, meta?: LogMetadata): void {
    if (!message.includes(ROUTINE)) super.log(at, message, meta);
  }
}

/**
 * `shutdownSignals`: the signals on which the SDK shuts every worker down by itself (its default: SIGINT, SIGTERM,
 * SIGQUIT, SIGUSR2). A program that stops its workers itself passes [] (its own handlers then decide, and the
 * process is not kept alive by the SDK's).
 */
export function installWorkerLogger(level: LogLevel = 'WARN', shutdownSignals?: NodeJS.Signals[]): void {
  Runtime.install({
    logger: new WorkerLogger(level),
    telemetryOptions: { logging: { filter: { core: level, other: 'ERROR' }, forward: {} } },
    ...(shutdownSignals && { shutdownSignals }),
  });
}
