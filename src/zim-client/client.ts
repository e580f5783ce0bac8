/**
 * The one client through which the product talks to ZIM's server API (zim-api.md §2): signed requests over an
 * undici keep-alive pool, answers validated with zod, every failure mapped onto the ZimError taxonomy.
 * It classifies but never retries: retry policy belongs to the caller (Temporal activities), which must reconcile
 * before re-sending a non-idempotent import.
 */
import { Pool } from 'undici';
import { z } from 'zod';
import { ZIM_ACTIONS, type ZimAction } from './actions';
import { ClientCode } from './codes';
import { ZimPermanentError, ZimRetryableError, zimErrorForCode, type ZimError, type ZimItemFailure } from './errors';
import { parseZimJson, stringifyZimJson } from './json';
import type {
  AddFriendsRequest,
  AddUsersToBlacklistRequest,
  ClearConversationUnreadRequest,
  DeleteFriendsRequest,
  DismissGroupRequest,
  ModifyGroupAttributeRequest,
  RemoveUsersFromBlacklistRequest,
  TransferGroupOwnerRequest,
  UpdateGroupDataRequest,
  MuteGroupRequest,
  QueryGroupInfoRequest,
  SendGroupMessageRequest,
  SendPeerMessageRequest,
  CreateGroupRequest,
  ImportGroupMsgRequest,
  ImportPeerMsgRequest,
  InviteUsersIntoGroupRequest,
  KickoutGroupUserRequest,
  ModifyUserInfoRequest,
  QueryBlacklistRequest,
  QueryConversationListRequest,
  QueryFriendListRequest,
  QueryGroupMemberListRequest,
  QueryGroupMsgRequest,
  QueryPeerMsgRequest,
  QueryUserInfosRequest,
  SetGroupMemberRoleRequest,
  SetGroupMembersNicknameRequest,
  UserRegisterRequest,
  ZimRequest,
} from './requests';
import { EnvelopeSchema, FailureListSchema, ZIM_RESPONSE_SCHEMAS, type Envelope, type ZimResult } from './responses';
import { signZimRequest } from './signature';

export interface ZimClientOptions {
  /** e.g. https://zim-api.zego.im (or a regional host), or the emulator's URL. */
  baseUrl: string;
  appId: number;
  serverSecret: string;
  /** TCP/TLS connect timeout (default 5 s). */
  connectTimeoutMs?: number;
  /** Whole-request timeout, from sending to the last body byte (default DEFAULT_REQUEST_TIMEOUT_MS, 15 s). */
  requestTimeoutMs?: number;
  /** Keep-alive connections in the pool (default 16). */
  connections?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

const OptionsSchema = z.object({
  baseUrl: z.url({ protocol: /^https?$/ }),
  appId: z.number().int().min(0).max(0xffff_ffff),
  serverSecret: z.string().min(1),
  connectTimeoutMs: z.number().int().positive().default(5_000),
  requestTimeoutMs: z.number().int().positive().default(DEFAULT_REQUEST_TIMEOUT_MS),
  connections: z.number().int().positive().default(16),
});

const TIMEOUT_ERROR_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export class ZimClient {
  readonly appId: number;
  /** The base URL without any credentials (safe to log). */
  readonly baseUrl: string;
  // A private field: never enumerated, inspected, serialised or copied into errors.
  readonly #serverSecret: string;
  readonly #pool: Pool;
  readonly #path: string;
  /** How long one call may take at most: what an exactly-once import's call lease must outlive. */
  readonly requestTimeoutMs: number;

  constructor(options: ZimClientOptions) {
    const parsed = OptionsSchema.safeParse(options);
    if (!parsed.success) {
      // Paths only: an issue must never echo the secret it was given.
      const fields = parsed.error.issues.map((i) => i.path.join('.') || '(options)').join(', ');
      throw new TypeError(`Invalid ZimClient options: ${fields}`);
    }
    const o = parsed.data;
    const url = new URL(o.baseUrl);
    if (url.username || url.password)
      throw new TypeError('Invalid ZimClient options: baseUrl must not hold credentials');
    this.appId = o.appId;
    this.baseUrl = url.origin + url.pathname;
    this.#serverSecret = o.serverSecret;
    this.#path = url.pathname;
    this.requestTimeoutMs = o.requestTimeoutMs;
    this.#pool = new Pool(url.origin, {
      connections: o.connections,
      connect: { timeout: o.connectTimeoutMs },
      headersTimeout: o.requestTimeoutMs,
      bodyTimeout: o.requestTimeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  userRegister(request: UserRegisterRequest) {
    return this.call('UserRegister', request);
  }
  modifyUserInfo(request: ModifyUserInfoRequest) {
    return this.call('ModifyUserInfo', request);
  }
  addFriends(request: AddFriendsRequest) {
    return this.call('AddFriends', request);
  }
  addUsersToBlacklist(request: AddUsersToBlacklistRequest) {
    return this.call('AddUsersToBlacklist', request);
  }
  importPeerMsg(request: ImportPeerMsgRequest) {
    return this.call('ImportPeerMsg', request);
  }
  createGroup(request: CreateGroupRequest) {
    return this.call('CreateGroup', request);
  }
  inviteUsersIntoGroup(request: InviteUsersIntoGroupRequest) {
    return this.call('InviteUsersIntoGroup', request);
  }
  kickoutGroupUser(request: KickoutGroupUserRequest) {
    return this.call('KickoutGroupUser', request);
  }
  /** One member's role (2 admin, 3 member); ZIM answers only the envelope. */
  setGroupMemberRole(request: SetGroupMemberRoleRequest) {
    return this.call('SetGroupMemberRole', request);
  }
  /** Up to 20 members' nicknames in one group (1 call/s per group). */
  setGroupMembersNickname(request: SetGroupMembersNicknameRequest) {
    return this.call('SetGroupMembersNickname', request);
  }
  importGroupMsg(request: ImportGroupMsgRequest) {
    return this.call('ImportGroupMsg', request);
  }
  /** One page of FromUserId's copy of the conversation with ToUserId, newest first. */
  queryPeerMsg(request: QueryPeerMsgRequest) {
    return this.call('QueryPeerMsg', request);
  }
  /** One page of a group's history, newest first. */
  queryGroupMsg(request: QueryGroupMsgRequest) {
    return this.call('QueryGroupMsg', request);
  }
  queryUserInfos(request: QueryUserInfosRequest) {
    return this.call('QueryUserInfos', request);
  }
  queryFriendList(request: QueryFriendListRequest) {
    return this.call('QueryFriendList', request);
  }
  queryBlacklist(request: QueryBlacklistRequest) {
    return this.call('QueryBlacklist', request);
  }
  queryGroupMemberList(request: QueryGroupMemberListRequest) {
    return this.call('QueryGroupMemberList', request);
  }
  queryConversationList(request: QueryConversationListRequest) {
    return this.call('QueryConversationList', request);
  }
  clearConversationUnread(request: ClearConversationUnreadRequest) {
    return this.call('ClearConversationUnread', request);
  }
  /** A live one-to-one send to up to 100 receivers (not idempotent: a retry sends again). */
  sendPeerMessage(request: SendPeerMessageRequest) {
    return this.call('SendPeerMessage', request);
  }
  /** A live group send; MsgId comes back exact although ZIM writes it as a JSON number beyond 2^53. */
  sendGroupMessage(request: SendGroupMessageRequest) {
    return this.call('SendGroupMessage', request);
  }
  /** Disbands a group (1 call/s per group); its members and history go with it. */
  dismissGroup(request: DismissGroupRequest) {
    return this.call('DismissGroup', request);
  }
  /** Ends up to 20 friendships of FromUserId: DeleteType 0 both sides, 1 only FromUserId's list. */
  deleteFriends(request: DeleteFriendsRequest) {
    return this.call('DeleteFriends', request);
  }
  /** Unblocks up to 20 users in FromUserId's blocklist. */
  removeUsersFromBlacklist(request: RemoveUsersFromBlacklistRequest) {
    return this.call('RemoveUsersFromBlacklist', request);
  }
  /** Sets a group's name, notice and/or avatar: a field sent as '' is cleared, a field left out is kept. */
  updateGroupData(request: UpdateGroupDataRequest) {
    return this.call('UpdateGroupData', request);
  }
  /** Sets (Action 0) or deletes (Action 1) group attributes; keys ZIM did not change come back in failedKeys. */
  modifyGroupAttribute(request: ModifyGroupAttributeRequest) {
    return this.call('ModifyGroupAttribute', request);
  }
  /** Makes NewOwner (a member) the owner; the old owner stays as a plain member. 1 call/s per group. */
  transferGroupOwner(request: TransferGroupOwnerRequest) {
    return this.call('TransferGroupOwner', request);
  }
  /** Mutes a group (all members, or some roles) for a duration; setting the same mute again changes nothing. */
  muteGroup(request: MuteGroupRequest) {
    return this.call('MuteGroup', request);
  }
  /** A group's profile and mute state. */
  queryGroupInfo(request: QueryGroupInfoRequest) {
    return this.call('QueryGroupInfo', request);
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  /**
   * Sends one signed call. Resolves with the validated result on Code 0, and also for a batch endpoint that
   * answered Code≠0 with a full failure list (every item failed: the failures say why, item by item).
   * Throws a ZimError otherwise.
   */
  async call<A extends ZimAction>(action: A, request: ZimRequest<A>): Promise<ZimResult<A>> {
    const { status, text } = await this.#send(action, request);

    let json: unknown;
    try {
      json = parseZimJson(text);
    } catch {
      json = undefined;
    }
    const envelope = EnvelopeSchema.safeParse(json);
    if (!envelope.success) throw transportStatusError(action, status, 'response is not a ZIM JSON envelope');
    const { Code, Message, RequestId } = envelope.data;

    if (Code !== 0) {
      const failures = failuresOf(action, json);
      // Every item of a batch failed: the list is the answer. CreateGroup is different: no group was created.
      if (failures.length > 0 && action !== 'CreateGroup') return this.#result(action, json, envelope.data);
      const item = itemOf(request);
      throw zimErrorForCode({
        action,
        code: Code,
        zimMessage: Message,
        ...(RequestId === undefined ? {} : { requestId: RequestId }),
        ...(item ? { item } : {}),
        ...(failures.length ? { failures } : {}),
      });
    }
    if (status < 200 || status >= 300) throw transportStatusError(action, status, `HTTP ${status} with Code 0`);
    return this.#result(action, json, envelope.data);
  }

  #result<A extends ZimAction>(action: A, json: unknown, envelope: Envelope): ZimResult<A> {
    const parsed = ZIM_RESPONSE_SCHEMAS[action].safeParse(json);
    if (!parsed.success) {
      const where = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new ZimPermanentError({
        action,
        code: ClientCode.INVALID_RESPONSE,
        zimMessage: `unexpected response shape (${where})`,
        ...(envelope.RequestId === undefined ? {} : { requestId: envelope.RequestId }),
      });
    }
    const result = parsed.data as ZimResult<A>;
    if (envelope.RequestId !== undefined) result.requestId = envelope.RequestId;
    return result;
  }

  async #send(action: ZimAction, request: object): Promise<{ status: number; text: string }> {
    const spec = ZIM_ACTIONS[action];
    const query = new URLSearchParams({
      Action: action,
      ...signZimRequest({ appId: this.appId, serverSecret: this.#serverSecret }),
    });
    let body: string | undefined;
    if (spec.method === 'GET') appendQueryParams(query, request);
    else body = stringifyZimJson(toWireBody(request));
    try {
      const response = await this.#pool.request({
        method: spec.method,
        path: `${this.#path}?${query.toString()}`,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      return { status: response.statusCode, text: await response.body.text() };
    } catch (err) {
      throw transportError(action, err);
    }
  }
}

/** Cursors are opaque decimal strings to callers but JSON numbers on the wire; bigint keeps them exact. */
function toWireBody(request: object): object {
  const next = (request as { Next?: unknown }).Next;
  return typeof next === 'string' ? { ...request, Next: BigInt(next) } : request;
}

/** GET Actions carry business parameters in the query; arrays use the documented `Name[]=` form. */
function appendQueryParams(query: URLSearchParams, request: object): void {
  for (const [key, value] of Object.entries(request)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const v of value) query.append(`${key}[]`, String(v));
    else query.append(key, String(value));
  }
}

function failuresOf(action: ZimAction, json: unknown): ZimItemFailure[] {
  const field = (ZIM_ACTIONS[action] as { failureList?: string }).failureList;
  if (!field || typeof json !== 'object' || json === null) return [];
  const list = FailureListSchema.safeParse((json as Record<string, unknown>)[field]);
  return list.success ? list.data : [];
}

/** The id an error concerns, from the request: the group, else the acting user. */
function itemOf(request: object): string | undefined {
  const r = request as Record<string, unknown>;
  const candidate = r.GroupId ?? r.ImportedUserId ?? r.FromUserId ?? r.GroupOwner;
  return typeof candidate === 'string' && candidate ? candidate : undefined;
}

function transportError(action: ZimAction, err: unknown): ZimRetryableError {
  const e = err as { name?: string; code?: string; message?: string };
  const timeout = e.name === 'TimeoutError' || (e.code !== undefined && TIMEOUT_ERROR_CODES.has(e.code));
  return new ZimRetryableError({
    action,
    code: timeout ? ClientCode.TIMEOUT : ClientCode.NETWORK,
    zimMessage: `${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''}: ${e.message ?? String(err)}`,
    reason: timeout ? 'timeout' : 'network',
    cause: err,
  });
}

/**
 * An answer that is not a ZIM envelope. 5xx and 429 are worth retrying; so is a 2xx with a broken body (a proxy
 * or a cut-off answer). Any other status is not.
 */
function transportStatusError(action: ZimAction, status: number, what: string): ZimError {
  const details = { action, code: ClientCode.HTTP_STATUS, zimMessage: `HTTP ${status}: ${what}`, httpStatus: status };
  if (status >= 500 || (status >= 200 && status < 300)) return new ZimRetryableError({ ...details, reason: 'http' });
  if (status === 429) return new ZimRetryableError({ ...details, reason: 'rate-limited' });
  return new ZimPermanentError(details);
}
