/**
 * Memory per stored message in the ZIM emulator: `npm run bench:emulator-memory [-- --messages 3000000]`.
 * Imports go through the emulator's full call path (gateway, validation, handlers) without HTTP, shaped like a
 * migration: every one-to-one message is imported twice (once per owner's copy), a tenth of the traffic is group
 * history. Heap plus typed-array memory is measured after forced garbage collection.
 */
import { parse as parseQuery } from 'node:querystring';
import { z } from 'zod';
import { signZimRequest } from '../zim-client/signature';
import { EmulatorOptionsSchema } from '../zim-emulator/config';
import { EmulatorCore } from '../zim-emulator/core';

const Args = z.object({
  messages: z.coerce.number().int().positive().default(3_000_000),
  users: z.coerce.number().int().positive().default(20_000),
  conversations: z.coerce.number().int().positive().default(100_000),
  groups: z.coerce.number().int().positive().default(1_000),
});

const WORDS =
  'the quick brown fox jumps over a lazy dog while we ship the new release tonight ok see you soon 👍'.split(' ');

function main(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:emulator-memory does)');
  const raw: Record<string, string> = {};
  for (const arg of process.argv.slice(2)) {
    const m = /^--([a-z]+)=?(.*)$/.exec(arg);
    if (m) raw[m[1]!] = m[2]!;
  }
  const args = Args.parse(raw);
  const core = new EmulatorCore(
    EmulatorOptionsSchema.parse({
      appId: 1,
      serverSecret: 's',
      plan: 'enterprise',
      rateLimits: { enabled: false },
      limits: { retentionDays: 3650, maxGroupMembers: 2000 },
    })
  );
  // One signed query per Action: the signature stays valid for the 10 minutes the run takes at most.
  const query = (Action: string) =>
    parseQuery(new URLSearchParams({ Action, ...signZimRequest({ appId: 1, serverSecret: 's' }) }).toString());
  const exec = (
    action: 'UserRegister' | 'CreateGroup' | 'ImportPeerMsg' | 'ImportGroupMsg',
    q: ReturnType<typeof query>,
    body: string
  ) => {
    const reply = core.execute(action, 'POST', q, body);
    if (reply.code !== 0) throw new Error(`${action} failed: ${reply.code} ${reply.message ?? ''}`);
  };

  const user = (i: number) => `user-${i.toString(36).padStart(6, '0')}`;
  const register = query('UserRegister');
  for (let i = 0; i < args.users; i += 100) {
    const batch = Array.from({ length: Math.min(100, args.users - i) }, (_, k) => ({
      UserId: user(i + k),
      UserName: `User ${i + k}`,
    }));
    exec('UserRegister', register, JSON.stringify({ UserInfo: batch }));
  }
  const create = query('CreateGroup');
  for (let g = 0; g < args.groups; g++) {
    const members = Array.from({ length: 50 }, (_, k) => user((g * 50 + k) % args.users));
    exec(
      'CreateGroup',
      create,
      JSON.stringify({ GroupId: `group-${g}`, GroupOwner: user(g % args.users), UserId: members })
    );
  }
  const pairs = Array.from(
    { length: args.conversations },
    (_, i) => [user(i % args.users), user((i * 7919 + 1 + (i % 97)) % args.users)] as const
  ).filter(([a, b]) => a !== b);

  gc();
  gc();
  const base = process.memoryUsage();
  const started = performance.now();
  const peer = query('ImportPeerMsg');
  const group = query('ImportGroupMsg');
  const t0 = Date.now() - 300 * 86_400_000;
  let stored = 0;
  let bodyBytes = 0;
  let logical = 0;
  while (stored < args.messages) {
    const words = 3 + (logical % 25);
    const text =
      Array.from({ length: words }, (_, k) => WORDS[(logical * 31 + k * 7) % WORDS.length]).join(' ') + ` #${logical}`;
    const message = `"MessageType":1,"Priority":1,"MessageBody":{"Message":${JSON.stringify(text)}},"SendMessageTime":${t0 + logical}`;
    if (logical % 10 === 9) {
      const g = logical % args.groups;
      exec(
        'ImportGroupMsg',
        group,
        `{"FromUserId":"${user((g * 50 + (logical % 50)) % args.users)}","GroupId":"group-${g}",${message}}`
      );
      stored += 1;
    } else {
      const [a, b] = pairs[logical % pairs.length]!;
      const [from, to] = logical % 3 === 0 ? [b, a] : [a, b];
      for (const owner of [from, to]) {
        exec(
          'ImportPeerMsg',
          peer,
          `{"FromUserId":"${from}","ToUserId":"${to}","ImportedUserId":"${owner}",${message}}`
        );
      }
      stored += 2;
    }
    bodyBytes += Buffer.byteLength(text);
    logical += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  gc();
  gc();
  const end = process.memoryUsage();
  const used = (m: NodeJS.MemoryUsage) => m.heapUsed + m.arrayBuffers;
  const perMessage = (used(end) - used(base)) / stored;
  const summary = core.state.messageCounts;
  console.log(`ZIM emulator memory per stored message`);
  console.log(
    `  stored messages:   ${stored} (${summary.peer} one-to-one copies, ${summary.group} group), ${logical} distinct bodies`
  );
  console.log(
    `  conversations:     ${core.state.peerConversationCount} owner copies, ${args.groups} groups, ${args.users} users`
  );
  console.log(`  average body:      ${(bodyBytes / logical).toFixed(0)} bytes of UTF-8 text`);
  console.log(`  memory:            ${perMessage.toFixed(0)} bytes per stored message (heap + typed arrays, after GC)`);
  console.log(
    `  total:             ${((used(end) - used(base)) / 2 ** 20).toFixed(0)} MiB for messages, RSS ${(end.rss / 2 ** 20).toFixed(0)} MiB`
  );
  console.log(`  import rate:       ${(stored / seconds).toFixed(0)} imports/s in-process (${seconds.toFixed(1)} s)`);
}

main();
