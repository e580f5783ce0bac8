/**
 * For coexistence tests that drive both apps over HTTP and read what each side holds: App 1.0 sends through the
 * reference legacy server's test API, App 2.0 through the ZIM emulator's SDK endpoint (a `source` 0 callback), and
 * the bodies of one one-to-one conversation and one group are read back from each side.
 */
import assert from 'node:assert/strict';
import { request } from 'undici';
import type { LegacyClient } from '../../src/coexist/legacy-client';
import type { ZimClient } from '../../src/zim-client';

/** POSTs JSON, fails the test unless it is answered 200, and returns the answer's JSON. */
export async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body) });
  const json = (await res.body.json()) as Record<string, unknown>;
  assert.equal(res.statusCode, 200, `${url}: ${JSON.stringify(json)}`);
  return json;
}

/** How often `body` is among `bodies`. */
export const count = (bodies: string[], body: string) => bodies.filter((b) => b === body).length;

export function bothSides(o: {
  zim: ZimClient;
  emulatorUrl: string;
  legacy: LegacyClient;
  legacyUrl: string;
  /** The one-to-one conversation read back: its two users. */
  peer: [string, string];
  group: string;
}) {
  const [a, b] = o.peer;
  return {
    zimBodies: async (conv: 'peer' | 'group') =>
      (conv === 'group'
        ? await o.zim.queryGroupMsg({ GroupId: o.group, Limit: 100 })
        : await o.zim.queryPeerMsg({ FromUserId: a, ToUserId: b, Limit: 100 })
      ).messages.map((m) => m.msgBody ?? ''),
    legacyBodies: async (conv: 'peer' | 'group') =>
      (await o.legacy.page(conv === 'group' ? `group:${o.group}` : `peer:${a}:${b}`, 0, 1000)).messages.map(
        (m) => m.body
      ),
    sendZim: (from: string, target: object, body: string) =>
      post(`${o.emulatorUrl}/_emulator/sdk/send`, { from, ...target, body }),
    sendLegacy: (from: string, target: object, body: string) =>
      post(`${o.legacyUrl}/_test/app1/send`, { from, ...target, body }),
  };
}
