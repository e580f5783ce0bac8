/**
 * ZIM's request signature (zim-api.md §3): md5(AppId + SignatureNonce + ServerSecret + Timestamp), lowercase hex.
 * Neither the Action nor the body is signed. Every request gets a fresh nonce and timestamp.
 */
import { createHash, randomBytes } from 'node:crypto';

export const SIGNATURE_VERSION = '2.0';

/** The common query parameters every ZIM call carries. */
export interface SignedQuery {
  AppId: string;
  SignatureNonce: string;
  Timestamp: string;
  SignatureVersion: typeof SIGNATURE_VERSION;
  Signature: string;
}

export function zimSignature(appId: number, nonce: string, serverSecret: string, timestampSeconds: number): string {
  return createHash('md5').update(`${appId}${nonce}${serverSecret}${timestampSeconds}`, 'utf8').digest('hex');
}

/** 16 hex characters from 8 random bytes, as the docs specify. */
export function newSignatureNonce(): string {
  return randomBytes(8).toString('hex');
}

export function signZimRequest(input: {
  appId: number;
  serverSecret: string;
  /** Fixed only in tests; a fresh random nonce otherwise. */
  nonce?: string;
  /** Unix seconds; the current time otherwise. */
  timestampSeconds?: number;
}): SignedQuery {
  const nonce = input.nonce ?? newSignatureNonce();
  const timestamp = input.timestampSeconds ?? Math.floor(Date.now() / 1000);
  return {
    AppId: String(input.appId),
    SignatureNonce: nonce,
    Timestamp: String(timestamp),
    SignatureVersion: SIGNATURE_VERSION,
    Signature: zimSignature(input.appId, nonce, input.serverSecret, timestamp),
  };
}
