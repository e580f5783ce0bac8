/**
 * The coexistence traffic that `zim-migrate dev --coexist` and `npm run chaos -- --coexist` drive, and the check
 * they end with: four users, three one-to-one pairs and a group known to both sides; rounds of messages sent on
 * both sides at once (App 1.0 users through the reference legacy server, App 2.0 users through the ZIM emulator's
 * SDK actor); then, conversation by conversation, every message must be on the other side exactly once and never
 * come back to its own side.
 */
import { request } from 'undici';
import type { LegacyClient } from '../coexist/legacy-client';
import type { CallbackFaults } from '../zim-emulator/callback-config';
import type { ZimClient } from '../zim-client';

export const COEXIST_USERS = ['co-ann', 'co-bob', 'co-cy', 'co-dee'];
const PAIRS = [
  ['co-ann', 'co-bob'],
  ['co-bob', 'co-cy'],
  ['co-cy', 'co-dee'],
] as const;
const GROUP = 'co-team';

export type Conversation = { key: string; a: string; b: string } | { key: string; group: string };
export const COEXIST_CONVERSATIONS: Conversation[] = [
  ...PAIRS.map(([a, b]) => ({ key: `peer:${[a, b].sort().join(':')}`, a, b })),
  { key: `group:${GROUP}`, group: GROUP },
];

/** Both sides as the traffic reaches them: the servers' URLs, and clients to read what each holds. */
export interface CoexistSides {
  legacyUrl: string;
  zimUrl: string;
  legacy: LegacyClient;
  zim: ZimClient;
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<void> {
  const res = await request(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${new URL(url).pathname} answered ${res.statusCode}: ${text}`);
}

/** After both sides hold the traffic, the echoes of the last mirrors are still on their way to their workflows. */
export const ECHO_GRACE_MS = 3_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

const GROUP_NAME = 'Coexistence';

/** Both sides know the users and the group before capture starts (as after the historical import). */
export async function registerBothSides(s: CoexistSides): Promise<void> {
  await s.zim.userRegister({ UserInfo: COEXIST_USERS.map((UserId) => ({ UserId })) });
  // The same name as the legacy group (as the import gives it): the audit would record a difference as ambiguous.
  await s.zim.createGroup({
    GroupId: GROUP,
    GroupOwner: COEXIST_USERS[0]!,
    UserId: COEXIST_USERS.slice(1),
    GroupName: GROUP_NAME,
  });
  await registerLegacySide(s.legacyUrl);
}

/** The users and the group in the legacy system only (ZIM gets them from the historical import). */
export async function registerLegacySide(legacyUrl: string): Promise<void> {
  await post(`${legacyUrl}/_test/users`, { users: COEXIST_USERS });
  await post(`${legacyUrl}/_test/app1/createGroup`, {
    operator: COEXIST_USERS[0],
    groupId: GROUP,
    name: GROUP_NAME,
    members: COEXIST_USERS.slice(1),
  });
}

export interface DeliverySettings {
  receiverUrl: string;
  /** Both senders' retry delays (ms): they must bridge a receiver that is down. */
  retryDelaysMs: number[];
  /** The emulator's seeded callback faults (duplicates, reordering, echoes before the send's answer). */
  zimFaults?: Partial<CallbackFaults>;
  /** The legacy server's seeded delivery faults: shares of routing events delivered twice, held back and lost. */
  legacyFaults?: {
    duplicateRate: number;
    reorderRate: number;
    reorderDelayMs: number;
    lossRate?: number;
    seed: number;
  };
}

/** Points ZIM's callbacks and the legacy routing webhook at the receiver; returns how to unpoint them. */
export async function deliverToReceiver(s: CoexistSides, d: DeliverySettings): Promise<() => Promise<void>> {
  await post(`${s.zimUrl}/_emulator/callbacks`, {
    url: `${d.receiverUrl}/zim/callback`,
    retryDelaysMs: d.retryDelaysMs,
    ...(d.zimFaults ? { faults: d.zimFaults } : {}),
  });
  await post(`${s.legacyUrl}/_test/webhook`, {
    url: `${d.receiverUrl}/legacy/events`,
    retryDelaysMs: d.retryDelaysMs,
    ...d.legacyFaults,
  });
  return async () => {
    await post(`${s.zimUrl}/_emulator/callbacks`, { url: null });
    await post(`${s.legacyUrl}/_test/webhook`, { url: null });
  };
}

/** The body of round `round`'s message from `origin` in conversation `k`: unique to the run by `tag`. */
export const trafficBody = (origin: 'L' | 'Z', tag: string, round: number, k: number) =>
  `${origin} ${tag} ${round}.${k}`;

export interface TrafficOptions {
  tag: string;
  rounds: number;
  /** The first round's number (bodies are numbered by round): 0 by default. */
  firstRound?: number;
  /** Which sides send: both by default; `legacy` while App 2.0 users do not exist in ZIM yet (before the import). */
  sides?: 'both' | 'legacy';
  /** Only these conversations (keys): all by default. */
  conversations?: readonly string[];
  /** Pause between rounds (ms), to spread the traffic over time; none by default. */
  paceMs?: number;
  signal: AbortSignal;
  /** After each round: messages sent so far on both sides together. */
  onSent?: (sent: number) => void;
  /** Awaited before each round after the first (chaos holds the traffic until the disruptions due have struck). */
  beforeRound?: () => Promise<void>;
}

/**
 * Rounds of traffic on both sides at once: each round one message per conversation from each side; within a
 * conversation each side sends in order. Returns the messages sent on each side (on the legacy side when only it
 * sends).
 */
export async function sendTraffic(s: CoexistSides, o: TrafficOptions): Promise<number> {
  let rounds = 0;
  const first = o.firstRound ?? 0;
  const perRound =
    (o.sides === 'legacy' ? 1 : 2) *
    COEXIST_CONVERSATIONS.filter((c) => !o.conversations || o.conversations.includes(c.key)).length;
  for (let i = first; i < first + o.rounds && !o.signal.aborted; i++) {
    if (i > first && o.paceMs) await sleep(o.paceMs);
    if (i > first) await o.beforeRound?.();
    await Promise.all(
      COEXIST_CONVERSATIONS.flatMap((c, k) => {
        if (o.conversations && !o.conversations.includes(c.key)) return [];
        const from = 'group' in c ? COEXIST_USERS[i % COEXIST_USERS.length]! : i % 2 ? c.a : c.b;
        const target = 'group' in c ? { groupId: c.group } : { to: from === c.a ? c.b : c.a };
        const legacy = post(`${s.legacyUrl}/_test/app1/send`, { from, ...target, body: trafficBody('L', o.tag, i, k) });
        if (o.sides === 'legacy') return [legacy];
        return [
          legacy,
          post(`${s.zimUrl}/_emulator/sdk/send`, { from, ...target, body: trafficBody('Z', o.tag, i, k) }),
        ];
      })
    );
    rounds++;
    o.onSent?.(rounds * perRound);
  }
  return (rounds * perRound) / (o.sides === 'legacy' ? 1 : 2);
}

/** The bodies one conversation holds on each side. */
export interface ConversationBodies {
  inLegacy: string[];
  inZim: string[];
}

const ZIM_PAGE = 100;

/** What each side holds, conversation by conversation (in COEXIST_CONVERSATIONS's order). */
export async function readSides(s: CoexistSides): Promise<ConversationBodies[]> {
  return Promise.all(
    COEXIST_CONVERSATIONS.map(async (c) => {
      const inLegacy = (await s.legacy.page(c.key, 0, 1_000)).messages.map((m) => m.body);
      const inZim: string[] = [];
      let next: string | undefined;
      for (;;) {
        const cursor = next === undefined ? {} : { Next: next };
        const page =
          'group' in c
            ? await s.zim.queryGroupMsg({ GroupId: c.group, Limit: ZIM_PAGE, ...cursor })
            : await s.zim.queryPeerMsg({ FromUserId: c.a, ToUserId: c.b, Limit: ZIM_PAGE, ...cursor });
        inZim.push(...page.messages.map((m) => m.msgBody));
        if (page.messages.length < ZIM_PAGE || !page.next || page.next === '0') break;
        next = page.next;
      }
      return { inLegacy, inZim };
    })
  );
}

/**
 * Waits until both sides hold at least the traffic of `rounds` rounds (the ZIM side's from round `zimFrom` on), or
 * `timeoutMs`, or the signal.
 */
export async function waitForBothSides(
  s: CoexistSides,
  o: {
    tag: string;
    rounds: number;
    /** The first round the ZIM side sent in (the rounds before were legacy only): 0 by default. */
    zimFrom?: number;
    timeoutMs: number;
    signal: AbortSignal;
    /**
     * When deliveries are lost on purpose, not everything arrives before the audit: settled also once nothing has
     * changed on either side for `quietMs` and this says nothing is under way (deliveries, conversations' queues).
     */
    quiet?: { quietMs: number; idle: () => Promise<boolean> };
  }
): Promise<boolean> {
  const mine = (bodies: string[]) => bodies.filter((b) => b.includes(` ${o.tag} `)).length;
  const expected = 2 * o.rounds - (o.zimFrom ?? 0);
  const until = Date.now() + o.timeoutMs;
  let last = '';
  let sameSince = Date.now();
  for (;;) {
    const sides = await readSides(s);
    if (sides.every((c) => mine(c.inLegacy) >= expected && mine(c.inZim) >= expected)) return true;
    const tally = sides.map((c) => `${mine(c.inLegacy)}/${mine(c.inZim)}`).join(',');
    if (tally !== last) [last, sameSince] = [tally, Date.now()];
    else if (o.quiet && Date.now() - sameSince >= o.quiet.quietMs && (await o.quiet.idle())) return true;
    if (Date.now() > until || o.signal.aborted) return false;
    await sleep(500);
  }
}

export interface CoexistCheck {
  legacyToZim: number;
  zimToLegacy: number;
  lost: number;
  duplicated: number;
  echoed: number;
  /** Messages expected each way; legacy→ZIM only when `expectedZimToLegacy` is given. */
  expectedEachWay: number;
  /** When the ZIM side sent in fewer rounds (its users were not imported yet): what it sent. */
  expectedZimToLegacy?: number;
}

/**
 * The check, on what each side holds: a message missing on the other side is lost; more than one copy there is
 * duplicated; more than one copy on its own side (where it was sent once) means it was mirrored back: echoed.
 */
export function compareSides(sides: ConversationBodies[], tag: string, rounds: number, zimFrom = 0): CoexistCheck {
  const check: CoexistCheck = {
    legacyToZim: 0,
    zimToLegacy: 0,
    lost: 0,
    duplicated: 0,
    echoed: 0,
    expectedEachWay: rounds * sides.length,
    ...(zimFrom > 0 ? { expectedZimToLegacy: (rounds - zimFrom) * sides.length } : {}),
  };
  const count = (bodies: string[], body: string) => bodies.filter((b) => b === body).length;
  for (const [k, s] of sides.entries()) {
    for (let i = 0; i < rounds; i++) {
      for (const [origin, own, other] of [
        ['L', s.inLegacy, s.inZim],
        ['Z', s.inZim, s.inLegacy],
      ] as const) {
        if (origin === 'Z' && i < zimFrom) continue;
        const body = trafficBody(origin, tag, i, k);
        const there = count(other, body);
        if (there === 0) check.lost++;
        else if (origin === 'L') check.legacyToZim++;
        else check.zimToLegacy++;
        if (there > 1) check.duplicated += there - 1;
        if (count(own, body) > 1) check.echoed += count(own, body) - 1;
      }
    }
  }
  return check;
}

export const coexistLine = (c: CoexistCheck) =>
  `${c.legacyToZim} messages legacy→ZIM, ${c.zimToLegacy} ZIM→legacy, ${c.lost} lost, ` +
  `${c.duplicated} duplicated, ${c.echoed} echoed`;

export const coexistExact = (c: CoexistCheck) =>
  c.lost === 0 &&
  c.duplicated === 0 &&
  c.echoed === 0 &&
  c.legacyToZim === c.expectedEachWay &&
  c.zimToLegacy === (c.expectedZimToLegacy ?? c.expectedEachWay);

/** What the stop's audit found and repaired (undefined: the audit failed). */
export type StopAudit = { found: number; repaired: number } | undefined;

/** What the stop's audit found, for the check's line. */
export const auditLine = (audit: StopAudit) =>
  audit
    ? `stop audit: ${audit.found} divergence${audit.found === 1 ? '' : 's'} found, ${audit.repaired} repaired`
    : 'stop audit: failed';

/**
 * Why the stop's audit fails the run (undefined: it passes): a divergence left unrepaired is one the sides still
 * disagree on, whatever the traffic's check says. `storeFile`: the coexistence store, for the command that lists them.
 */
export function auditProblem(audit: StopAudit, storeFile: string): string | undefined {
  if (!audit) return "the stop's audit did not run (its error is above): the sides were not compared";
  const left = audit.found - audit.repaired;
  if (left <= 0) return undefined;
  return (
    `the stop's audit left ${left} divergence${left === 1 ? '' : 's'} unrepaired: ` +
    `zim-migrate coexist divergences --store ${storeFile} says which and what to do`
  );
}
