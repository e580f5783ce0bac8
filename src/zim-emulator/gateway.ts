/**
 * The gateway checks every call passes before its Action runs (zim-api.md §9.1–§9.2), in this order (UNCONFIRMED,
 * §10.2): Action present and known, AppId, Timestamp, SignatureNonce, Signature, SignatureVersion, clock skew,
 * then the md5 signature itself. The body is not signed. Nonces are neither format-checked nor remembered.
 */
import type { ParsedUrlQuery } from 'node:querystring';
import { isZimAction, type ZimAction } from '../zim-client/actions';
import { ZimCode } from '../zim-client/codes';
import { SIGNATURE_VERSION, zimSignature } from '../zim-client/signature';
import { Refusal } from './rules';

export function queryValue(query: ParsedUrlQuery, key: string): string | undefined {
  const v = query[key];
  return Array.isArray(v) ? v[0] : v;
}

/** The Action of a call, or the refusal for a missing or unknown one. */
export function routeAction(query: ParsedUrlQuery): ZimAction | Refusal {
  const action = queryValue(query, 'Action');
  if (!action) return new Refusal(ZimCode.ACTION_EMPTY, 'Action is empty');
  if (!isZimAction(action)) return new Refusal(ZimCode.ACTION_UNSUPPORTED, `Action ${action} is not supported`);
  return action;
}

const UINT = /^\d+$/;

export function authenticate(
  query: ParsedUrlQuery,
  app: { appId: number; serverSecret: string; toleranceSeconds: number },
  nowMs: number
): Refusal | undefined {
  const appId = queryValue(query, 'AppId') ?? '';
  if (!UINT.test(appId) || Number(appId) > 0xffff_ffff) return new Refusal(ZimCode.APP_ID_FORMAT, 'AppId format error');
  const timestamp = queryValue(query, 'Timestamp');
  if (!timestamp) return new Refusal(ZimCode.TIMESTAMP_EMPTY, 'Timestamp is empty');
  if (!UINT.test(timestamp)) return new Refusal(ZimCode.TIMESTAMP_FORMAT, 'Timestamp format error');
  const nonce = queryValue(query, 'SignatureNonce');
  if (!nonce) return new Refusal(ZimCode.NONCE_EMPTY, 'SignatureNonce is empty');
  const signature = queryValue(query, 'Signature');
  if (!signature) return new Refusal(ZimCode.SIGNATURE_EMPTY, 'Signature is empty');
  const version = queryValue(query, 'SignatureVersion');
  if (!version) return new Refusal(ZimCode.SIGNATURE_VERSION_EMPTY, 'SignatureVersion is empty');
  if (version !== SIGNATURE_VERSION)
    return new Refusal(ZimCode.SIGNATURE_VERSION_UNSUPPORTED, 'unsupported SignatureVersion');
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > app.toleranceSeconds) {
    return new Refusal(ZimCode.SIGNATURE_EXPIRED, 'signature expired');
  }
  // An unknown AppId cannot have a matching signature: both are "check AppId and ServerSecret" for the caller.
  if (
    Number(appId) !== app.appId ||
    signature !== zimSignature(app.appId, nonce, app.serverSecret, Number(timestamp))
  ) {
    return new Refusal(ZimCode.SIGNATURE_ERROR, 'signature error');
  }
  return undefined;
}
