/**
 * The harness for tests of the ZIM client against the real emulator over HTTP on 127.0.0.1:
 *
 *   const t = useZimTestEnv();                     // in a describe(): started before, stopped after its tests
 *   await registerUsers(t.client, ['a', 'b']);     // rate limits are off unless asked for
 *   t.clock.freeze();                              // deterministic one-second windows
 */
import { after, before } from 'node:test';
import { request } from 'undici';
import { ZimClient, type ZimClientOptions } from '../../src/zim-client';
import type { ImportPeerMsgRequest } from '../../src/zim-client/requests';
import { signZimRequest } from '../../src/zim-client/signature';
import { startZimEmulator, type EmulatorOptions, type ZimEmulator } from '../../src/zim-emulator';

export const APP_ID = 424242;
export const SECRET = 'test-secret-7f3a9c0b1d2e4f5a6b7c8d9e';

/** The emulator's clock: real time, optionally frozen or shifted. */
export class TestClock {
  #frozenAt: number | undefined;
  offsetMs = 0;
  now = (): number => (this.#frozenAt ?? Date.now()) + this.offsetMs;
  freeze(at: number = Date.now()): void {
    this.#frozenAt = at;
  }
  unfreeze(): void {
    this.#frozenAt = undefined;
  }
  advance(ms: number): void {
    if (this.#frozenAt === undefined) this.offsetMs += ms;
    else this.#frozenAt += ms;
  }
}

export interface ZimTestEnv {
  emulator: ZimEmulator;
  client: ZimClient;
  clock: TestClock;
  /** Another client on the same emulator (e.g. with a wrong secret or short timeouts). */
  newClient(options?: Partial<ZimClientOptions>): ZimClient;
  stop(): Promise<void>;
}

export async function startZimTestEnv(
  options: Partial<EmulatorOptions> = {},
  clientOptions: Partial<ZimClientOptions> = {}
): Promise<ZimTestEnv> {
  const clock = new TestClock();
  const emulator = await startZimEmulator({
    appId: APP_ID,
    serverSecret: SECRET,
    rateLimits: { enabled: false },
    clock: clock.now,
    ...options,
  });
  const clients: ZimClient[] = [];
  const newClient = (o: Partial<ZimClientOptions> = {}) => {
    const c = new ZimClient({ baseUrl: emulator.url, appId: APP_ID, serverSecret: SECRET, ...clientOptions, ...o });
    clients.push(c);
    return c;
  };
  const client = newClient();
  return {
    emulator,
    client,
    clock,
    newClient,
    async stop() {
      await Promise.all(clients.map((c) => c.close()));
      await emulator.stop();
    },
  };
}

/** Starts an environment before the enclosing describe()'s tests and stops it after them. */
export function useZimTestEnv(
  options: Partial<EmulatorOptions> = {},
  clientOptions: Partial<ZimClientOptions> = {}
): ZimTestEnv {
  const env = {} as ZimTestEnv;
  before(async () => {
    Object.assign(env, await startZimTestEnv(options, clientOptions));
  });
  after(async () => {
    await env.stop?.();
  });
  return env;
}

export async function registerUsers(client: ZimClient, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 100) {
    const { failures } = await client.userRegister({ UserInfo: ids.slice(i, i + 100).map((UserId) => ({ UserId })) });
    if (failures.length) throw new Error(`registration failed: ${JSON.stringify(failures)}`);
  }
}

/** A text message, ready to spread into an import request. */
export function text(message: string, sendMessageTime?: number) {
  return {
    MessageType: 1,
    Priority: 1,
    MessageBody: { Message: message },
    ...(sendMessageTime === undefined ? {} : { SendMessageTime: sendMessageTime }),
  } satisfies Partial<ImportPeerMsgRequest>;
}

/**
 * A hand-made call, for what the client never sends (missing or malformed gateway parameters). `query` entries
 * replace the signed ones; an undefined value removes a parameter.
 */
export async function rawCall(
  baseUrl: string,
  options: { method?: 'GET' | 'POST'; query?: Record<string, string | undefined>; body?: string; path?: string } = {}
): Promise<{ status: number; json: Record<string, unknown> }> {
  const params: Record<string, string | undefined> = {
    Action: 'QueryUserInfos',
    ...signZimRequest({ appId: APP_ID, serverSecret: SECRET }),
    ...options.query,
  };
  const query = new URLSearchParams(
    Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)
  ).toString();
  const res = await request(`${baseUrl}${options.path ?? '/'}?${query}`, {
    method: options.method ?? 'POST',
    body: options.body ?? (options.method === 'GET' ? undefined : '{"UserIds":["nobody"]}'),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

/** GET or POST on the introspection API. */
export async function introspect(
  baseUrl: string,
  path: string,
  body?: unknown
): Promise<{ status: number; json: unknown }> {
  const res = await request(`${baseUrl}/_emulator/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.statusCode, json: await res.body.json() };
}
