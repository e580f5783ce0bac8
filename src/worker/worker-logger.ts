/**
 * The worker's log: the SDK's, at WARN and above, less one warning that our design makes routine. Message imports
 * run as local activities inside a workflow task that stays open up to 8 s (see workflows/activity-options.ts);
 * the SDK warns about every task longer than 5 s (TMPRL1104), which would be one line per owner every 8 s.
 */
import { DefaultLogger, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';

const ROUTINE = 'TMPRL1104';

export function installWorkerLogger(level: LogLevel = 'WARN'): void {
  const sdk = new DefaultLogger(level);
  Runtime.install({
    logger: new (class extends DefaultLogger {
      override log(at: LogLevel, message: string, meta?: LogMetadata): void {
        if (!message.includes(ROUTINE)) sdk.log(at, message, meta);
      }
    })(level),
  });
}
