/**
 * A seeded Sendbird workspace for the emulator, tests and benchmarks: the same options give the same workspace.
 * Shaped like a real app where it matters to a connector: power-law channel sizes, distinct DMs, supergroups over
 * 100 members, frozen channels, operators, deactivated users, user ids longer than ZIM's 32 bytes or with characters
 * ZIM refuses, channel URLs of ~73 characters, admin and file messages, equal timestamps, removed messages,
 * app data, blocks, open channels. Messages are kept in typed arrays (a million fit in ~30 MB) and built on demand.
 */
import { Rng } from '../synthetic/random';

export interface WorkspaceOptions {
  seed: number;
  users: number;
  /** Messages in all group channels together (approximately: each channel gets at least one when > 0). */
  messages: number;
  /** Start of history, epoch ms (given, so the same options give the same workspace on any day). */
  startMs: number;
}

export interface WsUser {
  user_id: string;
  nickname: string;
  profile_url: string;
  metadata: Record<string, string>;
  is_active: boolean;
  created_at: number; // seconds, as Sendbird writes it
}

export const MESSAGE_KIND = { text: 0, file: 1, admin: 2, removed: 3, appData: 4, image: 5 } as const;

export interface WsChannel {
  channel_url: string;
  name: string;
  custom_type: string;
  is_distinct: boolean;
  is_super: boolean;
  freeze: boolean;
  created_at: number; // seconds
  members: number[]; // user indexes
  operators: number[];
  /** Messages, oldest first (ties broken by id). */
  ts: Float64Array;
  ids: Float64Array;
  sender: Int32Array;
  kind: Uint8Array;
  /**
   * Each member's last-read time (ms), aligned with `members`: Sendbird's `read_receipt`. 0: never read. Supergroups
   * have none (Sendbird keeps no read receipts for them).
   */
  readTs: Float64Array;
}

export interface Workspace {
  users: WsUser[];
  channels: WsChannel[];
  openChannels: { channel_url: string; name: string }[];
  /** blocker index → blocked indexes */
  blocks: Map<number, number[]>;
  totalMessages: number;
}

const hex = (rng: Rng, n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[rng.int(0, 15)];
  return s;
};

function userId(rng: Rng, i: number): string {
  const r = rng.float();
  if (r < 0.1) return `customer-account-${hex(rng, 8)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 12)}-${i}`; // 60+ chars
  if (r < 0.13) return `legacy/${i}*x`; // characters ZIM refuses
  if (r < 0.15) return `user ${i}@example.com`; // fits: space and @ are allowed
  return `u${i}`;
}

export function generateWorkspace(o: WorkspaceOptions): Workspace {
  const rng = new Rng(o.seed);
  const startSec = Math.floor(o.startMs / 1000);
  const users: WsUser[] = [];
  const urng = rng.fork(1);
  for (let i = 0; i < o.users; i++)
    users.push({
      user_id: userId(urng, i),
      nickname: `User ${i}`,
      profile_url: urng.chance(0.7) ? `https://cdn.example.com/p/${i}.jpg` : '',
      metadata: urng.chance(0.2) ? { plan: urng.pick(['free', 'gold']) } : {},
      is_active: !urng.chance(0.03),
      created_at: startSec - urng.int(0, 86_400 * 30),
    });
  const crng = rng.fork(2);
  const channels: Omit<WsChannel, 'ts' | 'ids' | 'sender' | 'kind' | 'readTs'>[] = [];
  const url = () => `sendbird_group_channel_${crng.int(100_000_000, 999_999_999)}_${hex(crng, 40)}`;
  const pickMembers = (n: number) => {
    const set = new Set<number>();
    while (set.size < Math.min(n, o.users)) set.add(crng.int(0, o.users - 1));
    return [...set];
  };
  const pairs = new Set<string>();
  const dms = Math.floor(o.users * 0.6);
  for (let d = 0; d < dms && o.users >= 2; d++) {
    const [a, b] = pickMembers(2) as [number, number];
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (pairs.has(key)) continue; // distinct: one channel per pair
    pairs.add(key);
    channels.push({
      channel_url: url(),
      name: '',
      custom_type: '',
      is_distinct: true,
      is_super: false,
      freeze: false,
      created_at: startSec + crng.int(0, 86_400),
      members: [a, b],
      operators: [],
    });
  }
  const groups = Math.max(1, Math.floor(o.users / 15));
  for (let g = 0; g < groups && o.users >= 3; g++) {
    const members = pickMembers(crng.powerLaw(3, Math.min(99, o.users), 1.3));
    const operators = members.slice(0, crng.int(0, Math.min(3, members.length)));
    channels.push({
      channel_url: url(),
      name: `Group ${g}`,
      custom_type: crng.chance(0.3) ? 'team' : '',
      is_distinct: false,
      is_super: false,
      // The second group is always frozen, so that small workspaces have one (chance first: the same draws).
      freeze: crng.chance(0.05) || g === 1,
      created_at: startSec + crng.int(0, 86_400),
      members,
      operators,
    });
  }
  // A non-distinct channel of two members stays a group (people may have created it as one).
  if (o.users >= 2)
    channels.push({
      channel_url: url(),
      name: 'Pair room',
      custom_type: '',
      is_distinct: false,
      is_super: false,
      freeze: false,
      created_at: startSec,
      members: pickMembers(2),
      operators: [],
    });
  const supers = o.users > 100 ? Math.max(1, Math.floor(o.users / 400)) : 0;
  for (let s = 0; s < supers; s++) {
    const members = pickMembers(crng.int(101, Math.min(o.users, 300)));
    channels.push({
      channel_url: url(),
      name: `Community ${s}`,
      custom_type: '',
      is_distinct: false,
      is_super: true,
      freeze: s === 0,
      created_at: startSec,
      members,
      operators: members.slice(0, 2),
    });
  }
  // Messages: power-law share per channel.
  const mrng = rng.fork(3);
  const weights = channels.map(() => mrng.powerLaw(1, 10_000, 1.1));
  const total = weights.reduce((a, b) => a + b, 0);
  let nextId = 4_000_000_000; // beyond 2^31, as Sendbird's ids are
  let totalMessages = 0;
  // Read positions from their own stream, so the rest of the workspace is the same as before they existed.
  const rrng = rng.fork(5);
  const full: WsChannel[] = channels.map((ch, c) => {
    const n = o.messages > 0 ? Math.max(1, Math.round((o.messages * weights[c]!) / total)) : 0;
    const ts = new Float64Array(n);
    const ids = new Float64Array(n);
    const sender = new Int32Array(n);
    const kind = new Uint8Array(n);
    let t = ch.created_at * 1000 + 1000;
    for (let i = 0; i < n; i++) {
      if (!(i > 0 && mrng.chance(0.1))) t += 1 + Math.floor(mrng.exponential(60_000)); // 10% share the time before
      ts[i] = t;
      ids[i] = nextId++;
      sender[i] = ch.members[mrng.int(0, ch.members.length - 1)]!;
      const r = mrng.float();
      kind[i] =
        r < 0.02 && !ch.is_distinct
          ? MESSAGE_KIND.admin
          : r < 0.06
            ? MESSAGE_KIND.file
            : r < 0.1
              ? MESSAGE_KIND.image
              : r < 0.11
                ? MESSAGE_KIND.removed
                : r < 0.15
                  ? MESSAGE_KIND.appData
                  : MESSAGE_KIND.text;
    }
    totalMessages += n;
    // Half the members read everything (some after the last message), a third stopped at some message (often one
    // sharing its time with the next: the read time then covers both), the rest never read.
    const readTs = new Float64Array(ch.is_super ? 0 : ch.members.length);
    if (n > 0)
      for (let m = 0; m < readTs.length; m++) {
        const r = rrng.float();
        readTs[m] = r < 0.5 ? ts[n - 1]! + rrng.int(0, 3_600_000) : r < 0.83 ? ts[rrng.int(0, n - 1)]! : 0;
      }
    return { ...ch, ts, ids, sender, kind, readTs };
  });
  const blocks = new Map<number, number[]>();
  const brng = rng.fork(4);
  for (let i = 0; i < o.users; i++)
    if (brng.chance(0.05) && o.users > 3) {
      const set = new Set<number>();
      for (let k = brng.int(1, 3); set.size < k;) {
        const j = brng.int(0, o.users - 1);
        if (j !== i) set.add(j);
      }
      blocks.set(i, [...set]);
    }
  return {
    users,
    channels: full,
    openChannels: [
      { channel_url: 'open_lobby', name: 'Lobby' },
      { channel_url: 'open_announcements', name: 'Announcements' },
    ],
    blocks,
    totalMessages,
  };
}

/** Message i of a channel as Sendbird's API answers it. */
export function messageJson(ws: Workspace, ch: WsChannel, i: number): Record<string, unknown> {
  const id = ch.ids[i]!;
  const kind = ch.kind[i]!;
  const u = ws.users[ch.sender[i]!]!;
  const base = {
    message_id: id,
    channel_url: ch.channel_url,
    created_at: ch.ts[i]!,
    updated_at: 0,
    custom_type: '',
    data: '',
    is_removed: kind === MESSAGE_KIND.removed,
    mention_type: 'users',
    mentioned_users: [],
    translations: {},
    message_survival_seconds: -1,
  };
  if (kind === MESSAGE_KIND.admin) return { ...base, type: 'ADMM', message: `Admin notice ${id}`, user: {} };
  const user = { user_id: u.user_id, nickname: u.nickname, profile_url: u.profile_url, metadata: u.metadata };
  if (kind === MESSAGE_KIND.file)
    return {
      ...base,
      type: 'FILE',
      user,
      file: {
        url: `https://files.example.com/${id}/report.pdf`,
        name: `report-${id}.pdf`,
        type: 'application/pdf',
        size: 2048 + (id % 1000),
      },
      require_auth: false,
    };
  if (kind === MESSAGE_KIND.image)
    return {
      ...base,
      type: 'FILE',
      user,
      file: {
        url: `https://files.example.com/${id}/photo.jpg`,
        name: `photo-${id}.jpg`,
        type: 'image/jpeg',
        size: 40_000,
      },
      thumbnails: [],
    };
  if (kind === MESSAGE_KIND.appData)
    return {
      ...base,
      type: 'MESG',
      user,
      message: `Shared a location ${id}`,
      custom_type: 'location',
      data: JSON.stringify({ lat: 31.2, lng: 121.5 }),
    };
  return { ...base, type: 'MESG', user, message: `Message ${id} from ${u.nickname}` };
}

/** The channel's `read_receipt` map (user_id → last-read ms) as Sendbird gives it; empty for supergroups. */
export function readReceipt(ws: Workspace, ch: WsChannel): Record<string, number> {
  return Object.fromEntries([...ch.readTs].map((t, m) => [ws.users[ch.members[m]!]!.user_id, t]));
}

export function channelJson(
  ws: Workspace,
  ch: WsChannel,
  withMembers: boolean,
  withReadReceipt = false
): Record<string, unknown> {
  const ops = new Set(ch.operators);
  return {
    channel_url: ch.channel_url,
    name: ch.name,
    cover_url: '',
    custom_type: ch.custom_type,
    data: '',
    created_at: ch.created_at,
    is_distinct: ch.is_distinct,
    is_super: ch.is_super,
    is_public: false,
    is_broadcast: false,
    is_ephemeral: false,
    freeze: ch.freeze,
    member_count: ch.members.length,
    joined_member_count: ch.members.length,
    ...(withReadReceipt && !ch.is_super ? { read_receipt: readReceipt(ws, ch) } : {}),
    ...(withMembers
      ? {
          members: ch.members.map((m) => {
            const u = ws.users[m]!;
            return {
              user_id: u.user_id,
              nickname: u.nickname,
              profile_url: u.profile_url,
              is_active: u.is_active,
              state: 'joined',
              role: ops.has(m) ? 'operator' : '',
            };
          }),
        }
      : {}),
  };
}
