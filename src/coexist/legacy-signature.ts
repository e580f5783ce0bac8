/**
 * The legacy routing webhook's signature (docs/coexistence.md): `v1=` + hex HMAC-SHA256(secret, `${timestamp}.${rawBody}`),
 * timestamp in seconds since the epoch. Unlike ZIM's callback signature it covers the body, so a captured delivery
 * cannot carry another payload; freshness bounds replays.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const LEGACY_MAX_SKEW_SECONDS = 300;

export function signLegacyEvent(secret: string, timestamp: string, rawBody: Buffer | string): string {
  return 'v1=' + createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

export type LegacyVerdict = 'ok' | 'bad-signature' | 'stale';

/** Constant-time; never throws on malformed input. `nowSeconds` is injected for tests. */
export function verifyLegacySignature(
  secret: string,
  given: { timestamp: string | undefined; signature: string | undefined; rawBody: Buffer },
  nowSeconds: number = Date.now() / 1000,
  maxSkewSeconds = LEGACY_MAX_SKEW_SECONDS
): LegacyVerdict {
  const { timestamp, signature } = given;
  if (secret === '' || !timestamp || !/^\d{1,12}$/.test(timestamp) || !signature) return 'bad-signature';
  const expected = Buffer.from(signLegacyEvent(secret, timestamp, given.rawBody), 'utf8');
  const got = Buffer.from(signature, 'utf8');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return 'bad-signature';
  if (Math.abs(nowSeconds - Number(timestamp)) > maxSkewSeconds) return 'stale';
  return 'ok';
}
