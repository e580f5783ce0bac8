/** zim-migrate's client of a legacy backend's contract API (docs/coexistence.md §1.2–1.4), answers checked with zod. */
import { Pool } from 'undici';
import { z } from 'zod';
import {
  LegacyCapabilitiesSchema,
  LegacyGroupStateSchema,
  LegacyMessagePageSchema,
  LegacySendResponseSchema,
  LegacyUserConversationsSchema,
  type LegacyGroupProfile,
  type LegacyGroupState,
  type LegacySendRequest,
  type LegacyUserConversations,
} from './legacy-contract';

export class LegacyApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
  /** 4xx other than 408/429: the same request will fail again. */
  get permanent(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

export class LegacyClient {
  readonly #pool: Pool;
  readonly #auth: string;
  readonly #path: string;

  constructor(baseUrl: string, token: string, requestTimeoutMs = 10_000) {
    const url = new URL(baseUrl);
    this.#path = url.pathname.replace(/\/$/, '');
    this.#auth = `Bearer ${token}`;
    this.#pool = new Pool(url.origin, {
      connections: 8,
      headersTimeout: requestTimeoutMs,
      bodyTimeout: requestTimeoutMs,
    });
  }

  async #call<T extends z.ZodType>(
    schema: T,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown
  ): Promise<z.output<T>> {
    const res = await this.#pool.request({
      method,
      path: this.#path + path,
      headers: { authorization: this.#auth, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    // The answer's text is never put in an error: it may quote a message body.
    if (res.statusCode !== 200)
      throw new LegacyApiError(res.statusCode, `legacy API ${method} ${path.split('?')[0]} answered ${res.statusCode}`);
    return schema.parse(JSON.parse(text));
  }

  capabilities() {
    return this.#call(LegacyCapabilitiesSchema, 'GET', '/v1/capabilities');
  }
  send(request: LegacySendRequest) {
    return this.#call(LegacySendResponseSchema, 'POST', '/v1/messages', request);
  }
  page(conv: string, afterSeq: number, limit: number) {
    return this.#call(
      LegacyMessagePageSchema,
      'GET',
      `/v1/conversations/${encodeURIComponent(conv)}/messages?afterSeq=${afterSeq}&limit=${limit}`
    );
  }
  /** The group as it is now (GET /v1/groups/{id}, offered when capabilities.groupState); null when there is none. */
  async group(groupId: string): Promise<LegacyGroupState | null> {
    try {
      return (await this.#call(LegacyGroupStateSchema, 'GET', `/v1/groups/${encodeURIComponent(groupId)}`)).group;
    } catch (e) {
      if (e instanceof LegacyApiError && e.status === 404) return null;
      throw e;
    }
  }
  /**
   * One page of the user's conversations active since `since` (GET /v1/users/{id}/conversations, offered when
   * capabilities.conversationList); an unknown user (404) has none.
   */
  async userConversations(
    userId: string,
    since: number,
    limit: number,
    cursor?: string
  ): Promise<LegacyUserConversations> {
    const query = `since=${since}&limit=${limit}${cursor !== undefined ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    try {
      return await this.#call(
        LegacyUserConversationsSchema,
        'GET',
        `/v1/users/${encodeURIComponent(userId)}/conversations?${query}`
      );
    } catch (e) {
      if (e instanceof LegacyApiError && e.status === 404) return { conversations: [] };
      throw e;
    }
  }
  /** Group writes (convergent, see the contract): a 409 on create and a 404 on dismiss come back as `false`. */
  async createGroup(r: { operator: string; groupId: string; name: string; members: string[] }): Promise<boolean> {
    return this.#already(409, () => this.#call(z.unknown(), 'POST', '/v1/groups', r));
  }
  async joinGroup(groupId: string, operator: string, users: string[]): Promise<void> {
    await this.#call(z.unknown(), 'POST', `/v1/groups/${encodeURIComponent(groupId)}/members`, { operator, users });
  }
  async leaveGroup(groupId: string, operator: string, users: string[]): Promise<void> {
    const path = `/v1/groups/${encodeURIComponent(groupId)}/members/remove`;
    await this.#call(z.unknown(), 'POST', path, { operator, users });
  }
  /** POST /v1/groups/{id}/profile (offered when capabilities.groupProfile): sets the fields given, convergently. */
  async updateGroupProfile(groupId: string, profile: LegacyGroupProfile): Promise<void> {
    await this.#call(z.unknown(), 'POST', `/v1/groups/${encodeURIComponent(groupId)}/profile`, profile);
  }
  async dismissGroup(groupId: string, operator: string): Promise<boolean> {
    return this.#already(404, () =>
      this.#call(z.unknown(), 'DELETE', `/v1/groups/${encodeURIComponent(groupId)}`, { operator })
    );
  }
  async #already(status: number, call: () => Promise<unknown>): Promise<boolean> {
    try {
      await call();
      return true;
    } catch (e) {
      if (e instanceof LegacyApiError && e.status === status) return false;
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}
