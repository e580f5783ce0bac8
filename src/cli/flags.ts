/** What every long-running command's action does with its flags and its end. */
import type { z } from 'zod';
import { UsageError } from '../shared/usage-error';

/** A flag's option key as typed: `apiTokenFile` → `--api-token-file`. */
export const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Commander's flag values checked by `schema`; a bad one is a UsageError naming the flag as typed (`--api-token-file`). */
export function parseFlags<T extends z.ZodType>(schema: T, raw: unknown): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const i = parsed.error.issues[0]!;
  const flag = i.path.length ? `${flagName(String(i.path[0]))}: ` : '';
  throw new UsageError(`${flag}${i.message}`);
}

/** Resolves on the first SIGINT (Ctrl-C) or SIGTERM: a server command's cue to close and exit 0. */
export function untilStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
