/** Public API of the ZIM server API client. */
export { ZimClient, type ZimClientOptions } from './client';
export {
  ZimError,
  ZimRetryableError,
  ZimPermanentError,
  ZimAlreadyExistsError,
  outcomeOfCode,
  type ZimItemFailure,
  type ZimOutcome,
  type RetryReason,
} from './errors';
export { ZimCode, ClientCode, classifyZimCode, zimCodeName, type ZimCodeClass } from './codes';
export { ZIM_ACTIONS, ZIM_ACTION_NAMES, isZimAction, type ZimAction } from './actions';
export * from './limits';
export { signZimRequest, zimSignature, newSignatureNonce, SIGNATURE_VERSION, type SignedQuery } from './signature';
export type * from './requests';
export type { ZimResult, BatchResult, MessagePage, ZimMessage } from './responses';
export * from './roles';
