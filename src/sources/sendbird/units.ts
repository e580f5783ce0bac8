/**
 * The units of a Sendbird extraction, each durable on its own (extract-dir.ts): list users, list channels (with
 * members and operators), or scan an export; build the id map; one channel's messages; one chunk of users'
 * blocklists; finalize. Paged units save a checkpoint after every page (the activity heartbeats it), so a retry
 * after a crash goes on from the last page written instead of the first.
 */
import {
  appendFileSync,
  existsSync,
  openSync,
  closeSync,
  ftruncateSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { GroupMemberRecord, GroupRecord, UserRecord } from '../../import-format/schemas';
import { BLOCK_CHUNK_USERS } from '../../shared/extract-api';
import { openExportArchive, type ExportArchive } from '../export-archive';
import { ExtractDir, ID_MAP_FILE, readNdjson, REPORT_FILE, writeAtomic } from '../extract-dir';
import type { FetchStats, RequestPacer } from '../http-fetch';
import { fitsZim, IdMap } from '../id-map';
import { mergeReports, ReportBuilder, type SourceReport } from '../report';
import { nextMessages, SendbirdApi, type MessageCursor } from './api-client';
import { parseExportFile, ExportFileError } from './export-files';
import { exportJobsDir } from './export-jobs';
import {
  channelKind,
  mapGroup,
  mapMessage,
  mapReadReceipt,
  mapUnlistedUser,
  mapUser,
  type ChannelContext,
  type SendbirdMappingSettings,
} from './mapping';
import type { SbChannel, SbMember, SbMessage, SbUser } from './schemas';

export type SendbirdRoute =
  | { kind: 'api'; baseUrl: string }
  | { kind: 'export'; path: string }
  /** Data export jobs over the API: every data type over [fromMs, toMs) in windows of windowDays, polled every pollMs. */
  | { kind: 'export-jobs'; baseUrl: string; fromMs: number; toMs: number; windowDays: number; pollMs: number };

/** Where the export files are: the user's directory or zip, or what the export jobs downloaded. */
const exportLocation = (cfg: SendbirdExtractConfig) =>
  cfg.route.kind === 'export' ? cfg.route.path : exportJobsDir(cfg.outDir);

/** What an extraction is asked to do: serialisable, no secret (the API token lives in the worker). */
export interface SendbirdExtractConfig {
  outDir: string;
  route: SendbirdRoute;
  mapping: SendbirdMappingSettings;
  /** id-map.ndjson of an earlier extraction: its ids are kept, so every round maps alike. */
  earlierIdMap?: string;
  blocks: boolean;
}

export interface SourceRuntime {
  apiToken?: string;
  pacer: RequestPacer;
  stats: FetchStats;
}

export interface Checkpoint<T> {
  resume?: T;
  save(details: T): void;
}

interface ChannelLine {
  channel: SbChannel;
  members: SbMember[];
  operators: string[];
  /** Export routes: the archive entries holding this channel's messages (one per export window). */
  entries?: string[];
}

function api(cfg: SendbirdExtractConfig, rt: SourceRuntime): SendbirdApi {
  if (cfg.route.kind === 'export') throw new Error('this unit reads the Platform API');
  if (!rt.apiToken)
    throw new Error('no Sendbird API token in this worker: set SENDBIRD_API_TOKEN or pass --api-token-file');
  return new SendbirdApi({ baseUrl: cfg.route.baseUrl, apiToken: rt.apiToken, pacer: rt.pacer, stats: rt.stats });
}

/** Appends to a file being written, from where a checkpoint left it. */
function resumeFile(file: string, bytes: number | undefined): void {
  if (bytes === undefined || !existsSync(file)) {
    writeFileSync(file, '');
    return;
  }
  const fd = openSync(file, 'r+');
  ftruncateSync(fd, bytes);
  closeSync(fd);
}
const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r) + '\n').join('');

interface PagedCheckpoint {
  token?: string;
  bytes: number;
  count: number;
}

export async function listUsers(cfg: SendbirdExtractConfig, rt: SourceRuntime, cp: Checkpoint<PagedCheckpoint>) {
  const dir = new ExtractDir(cfg.outDir);
  const done = dir.done<{ users: number }>('list-users');
  if (done) return done;
  const sb = api(cfg, rt);
  const tmp = dir.tmp('users.ndjson');
  resumeFile(tmp, cp.resume?.bytes);
  let state: PagedCheckpoint = cp.resume ?? { bytes: 0, count: 0 };
  for (;;) {
    const page = await sb.users(state.token);
    appendFileSync(tmp, ndjson(page.users));
    state = { token: page.next ?? undefined, bytes: statSync(tmp).size, count: state.count + page.users.length };
    cp.save(state);
    if (!page.next) break;
  }
  renameSync(tmp, dir.raw('users.ndjson'));
  const summary = { users: state.count };
  dir.markDone('list-users', summary);
  return summary;
}

async function allPages<T>(fetch: (token?: string) => Promise<{ next?: string | null } & T>, take: (p: T) => void) {
  let token: string | undefined;
  do {
    const p = await fetch(token);
    take(p);
    token = p.next ?? undefined;
  } while (token);
}

export async function listChannels(cfg: SendbirdExtractConfig, rt: SourceRuntime, cp: Checkpoint<PagedCheckpoint>) {
  const dir = new ExtractDir(cfg.outDir);
  const done = dir.done<{ channels: number; openChannels: number }>('list-channels');
  if (done) return done;
  const sb = api(cfg, rt);
  const tmp = dir.tmp('channels.ndjson');
  resumeFile(tmp, cp.resume?.bytes);
  let state: PagedCheckpoint = cp.resume ?? { bytes: 0, count: 0 };
  for (;;) {
    const page = await sb.groupChannels(state.token);
    const lines: ChannelLine[] = [];
    for (const ch of page.channels) {
      let members = ch.members ?? [];
      // Supergroups come without members, and a list may hold only some: page the members endpoint then.
      if (ch.is_super || !ch.members || (ch.member_count ?? 0) > members.length) {
        members = [];
        await allPages(
          (t) => sb.members(ch.channel_url, t),
          (p) => members.push(...p.members)
        );
      }
      const operators: string[] = [];
      if (channelKind(ch, members.length) === 'group')
        await allPages(
          (t) => sb.operators(ch.channel_url, t),
          (p) => operators.push(...p.operators.map((o) => o.user_id))
        );
      const { members: _m, ...channel } = ch;
      lines.push({ channel, members, operators });
    }
    appendFileSync(tmp, ndjson(lines));
    state = { token: page.next ?? undefined, bytes: statSync(tmp).size, count: state.count + lines.length };
    cp.save(state);
    if (!page.next) break;
  }
  let openChannels = 0;
  await allPages(
    (t) => sb.openChannels(t),
    (p) => (openChannels += p.channels.length)
  );
  renameSync(tmp, dir.raw('channels.ndjson'));
  const summary = { channels: state.count, openChannels };
  dir.markDone('list-channels', summary);
  return summary;
}

const archives = new Map<string, Promise<ExportArchive>>();
function archive(location: string): Promise<ExportArchive> {
  let a = archives.get(location);
  if (!a) {
    a = openExportArchive(location);
    archives.set(location, a);
    a.catch(() => archives.delete(location));
  }
  return a;
}

/** Export route: every file of the export read once, users and channels listed, messages files located. */
export async function scanExport(cfg: SendbirdExtractConfig) {
  const dir = new ExtractDir(cfg.outDir);
  const done = dir.done<{ users: number; channels: number; openChannels: number; files: number }>('scan-export');
  if (done) return done;
  if (cfg.route.kind === 'api') throw new Error('scan-export reads an export');
  const location = exportLocation(cfg);
  const arc = await archive(location);
  const users = new Map<string, SbUser>();
  const channels = new Map<string, ChannelLine>();
  const messageFiles: { entry: string; channel: SbChannel }[] = [];
  let openChannels = 0;
  const jsonNames = arc.names.filter((n) => /\.json(\.gz)?$/i.test(n));
  if (!jsonNames.length)
    throw new ExportFileError(
      `${location} holds no .json files: export from Sendbird with format "json" (CSV is not read)`
    );
  for (const name of jsonNames) {
    const content = parseExportFile(name, await arc.read(name));
    if (content.kind === 'users') for (const u of content.users) users.set(u.user_id, u);
    else if (content.kind === 'channels') {
      openChannels += content.openChannels;
      for (const ch of content.channels) {
        const { members, ...channel } = ch;
        const prev = channels.get(ch.channel_url);
        channels.set(ch.channel_url, {
          channel,
          members: members ?? [],
          operators: [],
          ...(prev?.entries ? { entries: prev.entries } : {}),
        });
      }
    } else messageFiles.push({ entry: name, channel: content.channel });
  }
  // The messages file's channel is the fuller one (members with role); it wins. Exports of several windows hold a
  // messages file per channel and window: all are read (a message in two of them is taken once).
  for (const { entry, channel: ch } of messageFiles) {
    const prev = channels.get(ch.channel_url);
    const { members, ...channel } = ch;
    const m = members && members.length ? members : (prev?.members ?? []);
    const operators = m.filter((x) => x.role === 'operator').map((x) => x.user_id);
    channels.set(ch.channel_url, {
      channel: { ...prev?.channel, ...channel },
      members: m,
      operators,
      entries: [...(prev?.entries ?? []), entry],
    });
  }
  if (!users.size)
    throw new ExportFileError(
      `${location} holds no users file (a JSON object with "active_users"): export the users too, as a data export of type "users"`
    );
  writeAtomic(dir.raw('users.ndjson'), ndjson([...users.values()]));
  writeAtomic(dir.raw('channels.ndjson'), ndjson([...channels.values()]));
  const summary = { users: users.size, channels: channels.size, openChannels, files: jsonNames.length };
  dir.markDone('scan-export', summary);
  return summary;
}

interface Listing {
  users: SbUser[];
  channels: ChannelLine[];
}
const listings = new Map<string, { key: string; listing: Listing; ids: IdMap }>();

function load(cfg: SendbirdExtractConfig, withIdMap: boolean): { listing: Listing; ids: IdMap } {
  const dir = new ExtractDir(cfg.outDir);
  const mapFile = dir.out(ID_MAP_FILE);
  const key = [dir.raw('users.ndjson'), dir.raw('channels.ndjson'), mapFile]
    .map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0))
    .join('/');
  const cached = listings.get(cfg.outDir);
  if (cached && cached.key === key) return cached;
  const listing = {
    users: readNdjson<SbUser>(dir.raw('users.ndjson')),
    channels: readNdjson<ChannelLine>(dir.raw('channels.ndjson')),
  };
  const ids = withIdMap && existsSync(mapFile) ? IdMap.readFile(mapFile) : new IdMap();
  const entry = { key, listing, ids };
  listings.set(cfg.outDir, entry);
  return entry;
}

const isPeer = (l: ChannelLine) => channelKind(l.channel, l.members.length) === 'peer';

/** The id map: the earlier one first, every id that fits kept, the rest mapped, then checked whole. */
export async function buildIdMap(cfg: SendbirdExtractConfig) {
  const dir = new ExtractDir(cfg.outDir);
  const done = dir.done<{ mapped: number; kept: number; earlier: number }>('id-map');
  if (done) return done;
  const { listing } = load(cfg, false);
  const ids = cfg.earlierIdMap ? IdMap.readFile(cfg.earlierIdMap) : new IdMap();
  const earlier = ids.size;
  const userIds = new Set<string>([cfg.mapping.systemUserId]);
  for (const u of listing.users) userIds.add(u.user_id);
  for (const l of listing.channels) for (const m of l.members) userIds.add(m.user_id);
  const groupIds = listing.channels.filter((l) => !isPeer(l)).map((l) => l.channel.channel_url);
  let kept = 0;
  // Keep first, so no mapped id can take an id that is used as it is.
  for (const id of userIds)
    if (fitsZim(id, 'user')) {
      ids.keep(id, 'user');
      kept++;
    }
  for (const id of groupIds)
    if (fitsZim(id, 'group')) {
      ids.keep(id, 'group');
      kept++;
    }
  for (const id of userIds) ids.zimId(id, 'user');
  for (const id of groupIds) ids.zimId(id, 'group');
  writeAtomic(dir.out(ID_MAP_FILE), ndjson(ids.entries()));
  const summary = { mapped: ids.size - earlier, kept, earlier };
  dir.markDone('id-map', summary);
  return summary;
}

export interface MessagesUnitSummary {
  channel: string;
  kind: 'peer' | 'group' | 'skipped';
  file?: string;
  messages: number;
  /** Sender source id → nickname, for users the listing lacks (deleted from Sendbird). */
  senders: Record<string, string | null>;
  adminMessages: number;
  /** Read states written (read_states.c<n>.ndjson); absent in units done before read states were extracted. */
  readStates?: number;
  report: SourceReport;
}

interface MessagesCheckpoint {
  cursor: MessageCursor;
  bytes: number;
  messages: number;
  adminMessages: number;
  senders: Record<string, string | null>;
  report: SourceReport;
}

export const channelCount = (cfg: SendbirdExtractConfig) => load(cfg, false).listing.channels.length;
export const userCount = (cfg: SendbirdExtractConfig) => load(cfg, false).listing.users.length;

/** One channel's messages, oldest first (ties by message_id), into its own part file. */
export async function channelMessages(
  cfg: SendbirdExtractConfig,
  rt: SourceRuntime,
  index: number,
  cp: Checkpoint<MessagesCheckpoint>
): Promise<MessagesUnitSummary> {
  const dir = new ExtractDir(cfg.outDir);
  const unit = `messages-${index}`;
  const done = dir.done<MessagesUnitSummary>(unit);
  if (done) return done;
  const { listing, ids } = load(cfg, true);
  const line = listing.channels[index];
  if (!line) throw new Error(`no channel #${index} in the listing`);
  const url = line.channel.channel_url;
  const kind = channelKind(line.channel, line.members.length);
  const report = new ReportBuilder();
  if (cp.resume) report.merge(cp.resume.report);
  let ctx: ChannelContext;
  if (kind === 'peer') ctx = { kind, channelUrl: url, pair: [line.members[0]!.user_id, line.members[1]!.user_id] };
  else {
    if (!line.members.length) {
      const summary: MessagesUnitSummary = {
        channel: url,
        kind: 'skipped',
        messages: 0,
        senders: {},
        adminMessages: 0,
        report: {},
      };
      dir.markDone(unit, summary);
      return summary; // mapGroup reports the channel itself at finalize
    }
    ctx = { kind, channelUrl: url, groupId: ids.zimId(url, 'group') };
  }
  const file = `${kind === 'peer' ? 'peer' : 'group'}_messages.c${String(index).padStart(6, '0')}.ndjson`;
  const tmp = dir.tmp(file);
  resumeFile(tmp, cp.resume?.bytes);
  const senders = new Map<string, string | undefined>(
    Object.entries(cp.resume?.senders ?? {}).map(([k, v]) => [k, v ?? undefined])
  );
  let messages = cp.resume?.messages ?? 0;
  let adminMessages = cp.resume?.adminMessages ?? 0;
  const writePage = (page: SbMessage[]) => {
    const out: string[] = [];
    for (const m of page) {
      const mapped = mapMessage(m, ctx, cfg.mapping, ids, report, senders);
      if (!mapped) continue;
      if (m.type === 'ADMM' || !m.user?.user_id) adminMessages++;
      out.push(JSON.stringify(mapped.record) + '\n');
    }
    appendFileSync(tmp, out.join(''));
    messages += out.length;
  };
  const senderRecord = () => Object.fromEntries([...senders].map(([k, v]) => [k, v ?? null]));
  if (cfg.route.kind === 'api') {
    const sb = api(cfg, rt);
    let cursor: MessageCursor = cp.resume?.cursor ?? { ts: 0, idsAtTs: [] };
    for (;;) {
      const step = await nextMessages(sb, url, cursor);
      writePage(step.messages);
      cursor = step.cursor;
      cp.save({
        cursor,
        bytes: statSync(tmp).size,
        messages,
        adminMessages,
        senders: senderRecord(),
        report: report.entries,
      });
      if (step.done) break;
    }
  } else if (line.entries?.length) {
    const arc = await archive(exportLocation(cfg));
    const byId = new Map<number, SbMessage>();
    for (const entry of line.entries) {
      const content = parseExportFile(entry, await arc.read(entry));
      if (content.kind !== 'messages')
        throw new ExportFileError(
          `${entry} no longer holds messages: the export changed during extraction; start again`
        );
      for (const m of content.messages) byId.set(m.message_id, m);
    }
    // The export is in the channel's order already, but equal times must come in message_id order in every round.
    writePage([...byId.values()].sort((a, b) => a.created_at - b.created_at || a.message_id - b.message_id));
  }
  const readStates = channelReadStates(line, ctx, tmp, ids, report);
  const readFile = `read_states.c${String(index).padStart(6, '0')}.ndjson`;
  if (readStates.length) writeAtomic(dir.out(readFile), ndjson(readStates));
  let written: string | undefined;
  if (messages > 0) {
    renameSync(tmp, dir.out(file));
    written = file;
  }
  const summary: MessagesUnitSummary = {
    channel: url,
    kind,
    ...(written ? { file: written } : {}),
    messages,
    senders: senderRecord(),
    adminMessages,
    readStates: readStates.length,
    report: report.entries,
  };
  dir.markDone(unit, summary);
  return summary;
}

/** The channel's read receipts as read states, positioned in the messages just written (the whole file, in order). */
function channelReadStates(line: ChannelLine, ctx: ChannelContext, file: string, ids: IdMap, report: ReportBuilder) {
  const url = line.channel.channel_url;
  if (line.channel.is_super) {
    report.add(
      'read-state.supergroup',
      'a supergroup: Sendbird keeps no read receipts for supergroups, so its members have no read state',
      url
    );
    return [];
  }
  const receipt = line.channel.read_receipt;
  if (!receipt) {
    report.add('read-state.missing', 'the channel came without read_receipt: its members have no read state', url);
    return [];
  }
  const written = existsSync(file) ? readNdjson<{ id: string; sentAt: number }>(file) : [];
  return mapReadReceipt(
    receipt,
    ctx,
    line.members.map((m) => m.user_id),
    written,
    ids,
    report
  );
}

export interface BlocksUnitSummary {
  pairs: [string, string][];
}

export async function blocksChunk(
  cfg: SendbirdExtractConfig,
  rt: SourceRuntime,
  chunk: number,
  cp: Checkpoint<{ next: number; pairs: [string, string][] }>
) {
  const dir = new ExtractDir(cfg.outDir);
  const unit = `blocks-${chunk}`;
  const done = dir.done<BlocksUnitSummary>(unit);
  if (done) return { pairs: done.pairs.length };
  const { listing } = load(cfg, false);
  const sb = api(cfg, rt);
  const users = listing.users.slice(chunk * BLOCK_CHUNK_USERS, (chunk + 1) * BLOCK_CHUNK_USERS);
  const pairs = cp.resume?.pairs ?? [];
  for (let i = cp.resume?.next ?? 0; i < users.length; i++) {
    const u = users[i]!;
    await allPages(
      (t) => sb.blockedByMe(u.user_id, t),
      (p) => pairs.push(...p.users.map((b) => [u.user_id, b.user_id] as [string, string]))
    );
    cp.save({ next: i + 1, pairs });
  }
  dir.markDone(unit, { pairs });
  return { pairs: pairs.length };
}

export interface ExtractSummary {
  users: number;
  deactivatedUsers: number;
  unlistedUsers: number;
  groups: number;
  members: number;
  peerMessages: number;
  groupMessages: number;
  blocks: number;
  readStates: number;
  mappedIds: number;
  report: SourceReport;
}

/** The entity files from the listings and the units' summaries, the final id map, and the report. */
export async function finalize(cfg: SendbirdExtractConfig, blockChunks: number): Promise<ExtractSummary> {
  const dir = new ExtractDir(cfg.outDir);
  const { listing, ids } = load(cfg, true);
  const report = new ReportBuilder();
  const units: MessagesUnitSummary[] = listing.channels.map((_, i) => {
    const s = dir.done<MessagesUnitSummary>(`messages-${i}`);
    if (!s) throw new Error(`channel #${i} has not been extracted`);
    return s;
  });
  for (const u of units) report.merge(u.report);
  const users: UserRecord[] = [];
  const listed = new Set<string>();
  for (const u of listing.users) {
    if (listed.has(u.user_id)) continue;
    listed.add(u.user_id);
    users.push(mapUser(u, ids, report));
  }
  const unlisted = new Map<string, string | undefined>();
  for (const l of listing.channels)
    for (const m of l.members) if (!listed.has(m.user_id)) unlisted.set(m.user_id, m.nickname ?? m.name ?? undefined);
  for (const u of units)
    for (const [id, nick] of Object.entries(u.senders))
      if (!listed.has(id) && !unlisted.has(id)) unlisted.set(id, nick ?? undefined);
  for (const [id, nick] of unlisted) {
    users.push(mapUnlistedUser(id, nick, ids));
    report.add(
      'user.unlisted',
      'a member or sender missing from the users list (deleted from Sendbird): exported as a deactivated user so history keeps its sender',
      id
    );
  }
  if (units.some((u) => u.adminMessages > 0) && !listed.has(cfg.mapping.systemUserId))
    users.push({ id: ids.zimId(cfg.mapping.systemUserId, 'user'), nickname: 'Admin' });
  const groups: GroupRecord[] = [];
  const members: GroupMemberRecord[] = [];
  for (const l of listing.channels) {
    if (isPeer(l)) continue;
    const g = mapGroup(l.channel, l.members, l.operators, ids, report);
    if (!g) continue;
    groups.push(g.group);
    members.push(...g.members);
  }
  const blocks: { user: string; blocked: string }[] = [];
  for (let c = 0; c < blockChunks; c++) {
    const s = dir.done<BlocksUnitSummary>(`blocks-${c}`);
    if (!s) throw new Error(`block chunk #${c} has not been extracted`);
    for (const [a, b] of s.pairs) {
      if (a === b) continue;
      if (!listed.has(b) && !unlisted.has(b)) {
        report.add(
          'block.unknown-user',
          'a block of a user who is not in the users list (deleted from Sendbird): left out',
          `${a}/${b}`
        );
        continue;
      }
      blocks.push({ user: ids.zimId(a, 'user'), blocked: ids.zimId(b, 'user') });
    }
  }
  writeAtomic(dir.out('users.ndjson'), ndjson(users));
  if (groups.length) {
    writeAtomic(dir.out('groups.ndjson'), ndjson(groups));
    writeAtomic(dir.out('group_members.ndjson'), ndjson(members));
  }
  if (blocks.length) writeAtomic(dir.out('blocks.ndjson'), ndjson(blocks));
  const scan = dir.done<{ openChannels: number }>('scan-export') ?? dir.done<{ openChannels: number }>('list-channels');
  if (scan?.openChannels)
    report.add(
      'channel.open-not-extracted',
      'open channels are public chat rooms without membership; ZIM rooms keep no imported history, so they are not extracted',
      undefined,
      scan.openChannels
    );
  const notProvided: Record<string, string> = {
    friends: 'Sendbird has no friend list to export',
    'read-state':
      "only what channel read_receipt gives: one last-read time per member of a group channel (none for supergroups); positions before a conversation's newest message cannot be set in ZIM (validate warns read.partial)",
    reactions: 'not extracted',
    ...(cfg.route.kind === 'export'
      ? { blocks: 'not in a data export: use the Platform API route (--api) for blocklists' }
      : {}),
  };
  writeAtomic(dir.out(ID_MAP_FILE), ndjson(ids.entries()));
  const summary: ExtractSummary = {
    users: users.length,
    deactivatedUsers: users.filter((u) => u.deactivated).length,
    unlistedUsers: unlisted.size,
    groups: groups.length,
    members: members.length,
    peerMessages: units.filter((u) => u.kind === 'peer').reduce((a, u) => a + u.messages, 0),
    groupMessages: units.filter((u) => u.kind === 'group').reduce((a, u) => a + u.messages, 0),
    blocks: blocks.length,
    readStates: units.reduce((a, u) => a + (u.readStates ?? 0), 0),
    mappedIds: ids.size,
    report: mergeReports([report.entries]),
  };
  writeAtomic(
    dir.out(REPORT_FILE),
    JSON.stringify({ source: 'sendbird', route: cfg.route.kind, ...summary, notProvided }, null, 2)
  );
  return summary;
}
