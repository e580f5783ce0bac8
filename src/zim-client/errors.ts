/**
 * The one error taxonomy callers see. Every failure is a ZimError carrying the Action, ZIM's code and message:
 *  - ZimRetryableError: network, HTTP 5xx, timeouts, "too frequent" and server-busy codes; try again later.
 *  - ZimPermanentError: the same request can never succeed (validation, unknown user or group, size limits...).
 *  - ZimAlreadyExistsError (a permanent error): the thing is already there; a replaying caller treats it as done.
 * Nothing here ever holds the ServerSecret or the signed URL.
 */
import { classifyZimCode, zimCodeName, type ZimCodeClass } from './codes';

/** What a caller should do with a failed item or call. */
export type ZimOutcome = 'already-exists' | 'retryable' | 'permanent';

export type RetryReason = 'network' | 'http' | 'timeout' | 'rate-limited' | 'server-busy';

/** One item of a batch that ZIM refused, normalised across ErrorList / ErrList / ErrorUsers. */
export interface ZimItemFailure {
  /** The item's UserId (or GroupId). */
  id: string;
  code: number;
  message?: string;
  outcome: ZimOutcome;
}

export function outcomeOfCode(code: number): ZimOutcome {
  return outcomeOfClass(classifyZimCode(code));
}

function outcomeOfClass(cls: ZimCodeClass): ZimOutcome {
  if (cls === 'already-exists') return 'already-exists';
  return cls === 'retryable' || cls === 'rate-limited' ? 'retryable' : 'permanent';
}

export interface ZimErrorDetails {
  action: string;
  code: number;
  zimMessage: string;
  requestId?: string;
  /** The item the error concerns (a user or group id), when one can be named. */
  item?: string;
  /** Per-item failures that came with the refusal, if ZIM listed any. */
  failures?: ZimItemFailure[];
  /** The HTTP status, when the answer was not a ZIM envelope. */
  httpStatus?: number;
  cause?: unknown;
}

export class ZimError extends Error {
  readonly action: string;
  readonly code: number;
  readonly zimMessage: string;
  readonly requestId?: string;
  readonly item?: string;
  readonly failures?: ZimItemFailure[];
  readonly httpStatus?: number;
  readonly outcome: ZimOutcome = 'permanent';

  constructor(details: ZimErrorDetails) {
    const name = zimCodeName(details.code);
    super(
      `ZIM ${details.action} failed: code ${details.code}${name ? ` (${name})` : ''}` +
        `${details.zimMessage ? `: ${details.zimMessage}` : ''}${details.item ? ` [item ${details.item}]` : ''}`,
      details.cause === undefined ? undefined : { cause: details.cause }
    );
    this.name = new.target.name;
    this.action = details.action;
    this.code = details.code;
    this.zimMessage = details.zimMessage;
    if (details.requestId !== undefined) this.requestId = details.requestId;
    if (details.item !== undefined) this.item = details.item;
    if (details.failures !== undefined) this.failures = details.failures;
    if (details.httpStatus !== undefined) this.httpStatus = details.httpStatus;
  }
}

export class ZimRetryableError extends ZimError {
  override readonly outcome = 'retryable';
  readonly reason: RetryReason;

  constructor(details: ZimErrorDetails & { reason: RetryReason }) {
    super(details);
    this.reason = details.reason;
  }
}

export class ZimPermanentError extends ZimError {}

export class ZimAlreadyExistsError extends ZimPermanentError {
  override readonly outcome = 'already-exists';
}

/** The error for a non-zero ZIM Code, by the code's class. */
export function zimErrorForCode(details: ZimErrorDetails): ZimError {
  switch (classifyZimCode(details.code)) {
    case 'rate-limited':
      return new ZimRetryableError({ ...details, reason: 'rate-limited' });
    case 'retryable':
      return new ZimRetryableError({ ...details, reason: 'server-busy' });
    case 'already-exists':
      return new ZimAlreadyExistsError(details);
    default:
      return new ZimPermanentError(details);
  }
}
