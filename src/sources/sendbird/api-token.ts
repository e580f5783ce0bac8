/**
 * The Sendbird API token: from SENDBIRD_API_TOKEN or a file (--api-token-file), never from a flag's value, the
 * config file or the workflow input, so it stays out of shell history, Temporal's history and logs.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../../config/config-error';

const token = z
  .string()
  .trim()
  .min(8, { error: 'too short for a Sendbird API token' })
  .regex(/^[\x21-\x7e]+$/, { error: 'a Sendbird API token is printable ASCII without spaces' });

export function readSendbirdApiToken(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env
): string | undefined {
  let raw: string | undefined;
  let where: string;
  if (file !== undefined) {
    where = `the file ${file}`;
    try {
      raw = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read the Sendbird API token from ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`
      );
    }
  } else {
    where = 'SENDBIRD_API_TOKEN';
    raw = env.SENDBIRD_API_TOKEN;
    if (raw === undefined || raw === '') return undefined;
  }
  const parsed = token.safeParse(raw);
  // The message never quotes the value.
  if (!parsed.success)
    throw new ConfigError(
      `the Sendbird API token in ${where} is not usable: ${parsed.error.issues[0]?.message ?? 'invalid'}`
    );
  return parsed.data;
}
