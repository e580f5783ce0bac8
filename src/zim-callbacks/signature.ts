/**
 * ZIM's signature on server-to-server callbacks (coexistence.md §3.2, [EN:callbacks/authenticating-server-to-server-callbacks]):
 * lower_hex(sha1(concat(sort([callbackSecret, timestamp, nonce])))). It is not the MD5 scheme of our API requests,
 * and it does not cover the body: a receiver must also check freshness and nonces.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface CallbackSignatureParts {
  /** The token exactly as received (seconds for message events; group events' unit is ambiguous, §3.2). */
  timestamp: string | number;
  nonce: string | number;
}

/** The signature ZIM sends with a callback. Sorting is by UTF-16 code units, as the documented samples do. */
export function signCallback(secret: string, parts: CallbackSignatureParts): string {
  const sorted = [secret, String(parts.timestamp), String(parts.nonce)].sort();
  return createHash('sha1').update(sorted.join(''), 'utf8').digest('hex');
}

/**
 * Whether `signature` is ZIM's signature over these parts. Compared in constant time; a malformed signature (not
 * 40 hex characters) is simply false, never an exception, so a receiver can answer 401 uniformly.
 */
export function verifyCallbackSignature(
  secret: string,
  parts: CallbackSignatureParts & { signature: string }
): boolean {
  if (secret === '' || !/^[0-9a-fA-F]{40}$/.test(parts.signature)) return false;
  const expected = Buffer.from(signCallback(secret, parts), 'hex');
  const given = Buffer.from(parts.signature.toLowerCase(), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
