/**
 * `npm run bench:coexist-audit-listing [-- --users 20000] [--conversations 50000] [--page 10] [--sample 20]
 * [--postgres]`: the reconciliation audit's listing cost (issue #14). A coexistence store is seeded with one-to-one
 * conversations between `--users` users (a mirror row each) and a group per 10 of them (its state and 3 members),
 * then the audit's activities page through every conversation and every user, `--page` at a time, as the audit
 * workflow does; and discovery's "known" check of 50 found keys. Before: the earlier listing, which read every key
 * and sliced one page per activity (run here from its queries, for `--sample` pages, its total extrapolated: every
 * page read the same); it also listed the sync's workflows through Temporal visibility per page, not counted here.
 * SQLite always, PostgreSQL (a local throwaway server) with `--postgres`. Data goes to a temporary directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { createAuditActivities } from '../../activities/coexist-audit';
import { parseConversation } from '../coexist/audit';
import type { CoexistStore } from '../coexist/coexist-store';
import type { LegacyClient } from '../coexist/legacy-client';
import { openCoexistStore } from '../coexist/open-coexist-store';
import { usersOf } from '../coexist/store-keys';
import { openStagingDatabase } from '../staging/postgres/staging-database';
import type { ZimClient } from '../zim-client';
import { camelCaseKeys, wholeNumber } from './bench-flags';
import { withLocalPostgres } from './bench-postgres';
import { loadAverageText } from './process-stats';

const Flags = z.object({
  users: wholeNumber('--users', 3),
  conversations: wholeNumber('--conversations', 1),
  page: wholeNumber('--page', 1),
  sample: wholeNumber('--sample', 1),
  postgres: z.boolean(),
});
type Options = z.infer<typeof Flags>;

const n = (v: number) => v.toLocaleString('en-US');
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The earlier listing's reads, as the store made them before its key tables: every key, every time. */
interface OldReads {
  conversations(): Promise<string[]>;
  members(): Promise<string[]>;
  close(): Promise<void>;
}
const OLD_CONVERSATIONS = `SELECT conv FROM mirrored UNION SELECT 'group:' || group_id FROM group_state
  UNION SELECT conv FROM parked UNION SELECT conv FROM divergences`;

function oldSqlite(file: string): OldReads {
  const db = new Database(file, { readonly: true });
  const convs = db.prepare<[], string>(`${OLD_CONVERSATIONS} ORDER BY 1`).pluck();
  const members = db.prepare<[], string>('SELECT DISTINCT user_id FROM group_members').pluck();
  return {
    conversations: async () => convs.all(),
    members: async () => members.all(),
    close: async () => void db.close(),
  };
}

function oldPostgres(url: string): OldReads {
  const { db } = openStagingDatabase(url);
  const column = async (sql: string) => (await db.pool.query<{ k: string }>(sql)).rows.map((r) => r.k);
  return {
    conversations: () =>
      column(
        `SELECT conv AS k FROM (${OLD_CONVERSATIONS.replace(/\b(mirrored|group_state|parked|divergences)\b/g, 'zm_coexist_$1')}) c ORDER BY 1`
      ),
    members: () => column('SELECT DISTINCT user_id AS k FROM zm_coexist_group_members'),
    close: () => db.close(),
  };
}

/** The earlier activities' page: every key read, sorted, one page sliced. */
const pageAfter = (items: Iterable<string>, after: string | undefined, limit: number) => {
  const sorted = [...items].filter((c) => after === undefined || c > after).sort();
  return { items: sorted.slice(0, limit), more: sorted.length > limit };
};
const oldUsers = async (old: OldReads) => {
  const users = new Set(await old.members());
  for (const c of await old.conversations()) for (const u of usersOf(c)) users.add(u);
  return users;
};

async function seed(store: CoexistStore, o: Options): Promise<void> {
  const user = (i: number) => `user-${String(i % o.users).padStart(6, '0')}`;
  const groups = Math.floor(o.conversations / 10);
  const peers = o.conversations - groups;
  const jobs: (() => Promise<void>)[] = [];
  for (let i = 0; i < peers; i++) {
    // Pairs (i, i + 1 + i / users): distinct while there are fewer conversations than users squared.
    const a = i % o.users;
    const b = (a + 1 + Math.floor(i / o.users)) % o.users;
    jobs.push(() => store.markSent('legacy', `l${i}`, `peer:${user(a)}:${user(b)}`, `z${i}`));
  }
  for (let g = 0; g < groups; g++)
    jobs.push(async () => {
      await store.setGroup(`group-${g}`, { live: true, origin: 'legacy', changedAt: 1 });
      await store.setMembers(`group-${g}`, [user(g * 3), user(g * 3 + 1), user(g * 3 + 2)], {
        member: true,
        origin: 'legacy',
        changedAt: 1,
      });
    });
  // A few at a time: PostgreSQL's round trips overlap (SQLite's run one after another anyway).
  for (let i = 0; i < jobs.length; i += 32) await Promise.all(jobs.slice(i, i + 32).map((j) => j()));
}

async function measure(engine: string, location: string, o: Options, old: (location: string) => OldReads) {
  const store = await openCoexistStore(location);
  try {
    let t = performance.now();
    await seed(store, o);
    const seeded = performance.now() - t;
    const convCount = (await store.conversations()).length;
    const userCount = (await store.users()).length;
    console.log(
      `\n${engine}: ${n(convCount)} conversations, ${n(userCount)} users (seeded in ${s(seeded)}), pages of ${o.page}`
    );
    const acts = createAuditActivities({ store, zim: {} as ZimClient, legacy: {} as LegacyClient });

    // After: the activities as the audit workflow calls them, through every page.
    const pageAll = async (list: (after: string | undefined) => Promise<{ keys: string[]; more: boolean }>) => {
      const started = performance.now();
      let after: string | undefined;
      let pages = 0;
      let keys = 0;
      for (;;) {
        const p = await list(after);
        pages++;
        keys += p.keys.length;
        if (!p.more) break;
        after = p.keys.at(-1);
      }
      return { ms: performance.now() - started, pages, keys };
    };
    const convs = await pageAll(async (after) => {
      const r = await acts.listAuditConversations({ limit: o.page, ...(after !== undefined ? { after } : {}) });
      return { keys: r.conversations, more: r.more };
    });
    const users = await pageAll(async (after) => {
      const r = await acts.listAuditUsers({ limit: o.page, ...(after !== undefined ? { after } : {}) });
      return { keys: r.users, more: r.more };
    });
    if (convs.keys !== convCount || users.keys !== userCount)
      throw new Error(`paged ${convs.keys} conversations and ${users.keys} users`);

    // Before: the earlier listing's pages, `sample` of them spread over the keys, each a full read.
    const reads = old(location);
    try {
      const allConvs = await reads.conversations();
      const allUsers = [...(await oldUsers(reads))].sort();
      const spread = (keys: string[]) =>
        Array.from({ length: o.sample }, (_, i) => keys[Math.floor((i * keys.length) / o.sample)]);
      t = performance.now();
      for (const after of spread(allConvs))
        pageAfter(
          (await reads.conversations()).filter((c) => parseConversation(c)),
          after,
          o.page
        );
      const convPageMs = (performance.now() - t) / o.sample;
      t = performance.now();
      for (const after of spread(allUsers)) pageAfter(await oldUsers(reads), after, o.page);
      const userPageMs = (performance.now() - t) / o.sample;

      // Discovery's check of what a page of users' listings found (50 keys, half of them known).
      const found = [...allConvs.slice(0, 25), ...Array.from({ length: 25 }, (_, i) => `peer:new-${i}:x`)];
      t = performance.now();
      for (let i = 0; i < o.sample; i++) {
        const known = new Set(await reads.conversations());
        found.filter((c) => !known.has(c));
      }
      const oldKnownMs = (performance.now() - t) / o.sample;
      t = performance.now();
      for (let i = 0; i < o.sample; i++) await store.knownOf(found);
      const knownMs = (performance.now() - t) / o.sample;

      const row = (what: string, pages: number, beforePageMs: number, after: { ms: number }) =>
        console.log(
          `  ${what}: ${n(pages)} pages; before ${beforePageMs.toFixed(1)} ms a page, about ` +
            `${s(beforePageMs * pages)} in all; after ${s(after.ms)} in all (${(after.ms / pages).toFixed(2)} ms a ` +
            `page): ${((beforePageMs * pages) / Math.max(after.ms, 1)).toFixed(0)}x`
        );
      row('conversations', convs.pages, convPageMs, convs);
      row('users', users.pages, userPageMs, users);
      console.log(
        `  discovery's known check of 50 found keys: before ${oldKnownMs.toFixed(1)} ms, after ${knownMs.toFixed(2)} ms`
      );
    } finally {
      await reads.close();
    }
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '20000' },
      conversations: { type: 'string', default: '50000' },
      page: { type: 'string', default: '10' },
      sample: { type: 'string', default: '20' },
      postgres: { type: 'boolean', default: false },
    },
  });
  const parsed = Flags.safeParse(camelCaseKeys(values));
  if (!parsed.success) {
    console.error(`bench:coexist-audit-listing: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    process.exit(2);
  }
  const o = parsed.data;
  console.log(
    `zim-migrate coexistence audit listing, ${new Date().toISOString()}, load average ${loadAverageText()}\n` +
      `${n(o.conversations)} conversations (a tenth of them groups) among ${n(o.users)} users`
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'zim-bench-audit-listing-'));
  try {
    await measure('SQLite', path.join(dir, 'coexist.sqlite'), o, oldSqlite);
    if (o.postgres)
      await withLocalPostgres((url) => measure('PostgreSQL', `${url}?schema=coexist_bench`, o, oldPostgres));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
