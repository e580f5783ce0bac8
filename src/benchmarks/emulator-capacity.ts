/**
 * Raw capacity of the ZIM emulator with rate limits off: `npm run bench:emulator [-- --duration-ms 10000
 * --connections 64]`. The emulator runs as `zim-migrate emulator` in one process, a load generator in another (undici,
 * many keep-alive connections, loopback only), both stopping by themselves. The mix is mostly ImportPeerMsg with
 * some queries and group imports. Prints requests/s, latency percentiles and errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { z } from 'zod';
import { signZimRequest } from '../zim-client/signature';
import { projectRoot } from '../shared/project-root';
import { loadAverageText } from './process-stats';

const APP_ID = 1;
const SECRET = 'bench-secret-0123456789abcdef0123';
const USERS = 2000;
const GROUPS = 50;

const Args = z.object({
  role: z.enum(['driver', 'loadgen']).default('driver'),
  url: z.string().optional(),
  durationMs: z.coerce.number().int().positive().default(10_000),
  warmupMs: z.coerce.number().int().nonnegative().default(1_000),
  connections: z.coerce.number().int().positive().default(64),
});
type Args = z.output<typeof Args>;

function parseArgs(argv: string[]): Args {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) continue;
    const key = m[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    raw[key] = m[2] ?? argv[++i] ?? '';
  }
  return Args.parse(raw);
}

// ---------------------------------------------------------------- load generator (child process)

type Mix = 'ImportPeerMsg' | 'QueryPeerMsg' | 'ImportGroupMsg' | 'QueryUserInfos';
const MIX: Array<[Mix, number]> = [
  ['ImportPeerMsg', 0.8],
  ['QueryPeerMsg', 0.1],
  ['ImportGroupMsg', 0.05],
  ['QueryUserInfos', 0.05],
];

const user = (i: number) => `u${i}`;
const randomInt = (n: number) => Math.floor(Math.random() * n);

function pickAction(): Mix {
  let r = Math.random();
  for (const [action, share] of MIX) if ((r -= share) < 0) return action;
  return 'ImportPeerMsg';
}

function requestBody(action: Mix): object {
  const a = randomInt(USERS);
  const b = (a + 1 + randomInt(USERS - 1)) % USERS;
  const time = Date.now() - 60_000 + randomInt(1000);
  const message = {
    MessageType: 1,
    Priority: 1,
    MessageBody: { Message: `benchmark message ${a}->${b} at ${time}: the quick brown fox jumps over the lazy dog` },
    SendMessageTime: time,
  };
  switch (action) {
    case 'ImportPeerMsg':
      return {
        ...message,
        FromUserId: user(a),
        ToUserId: user(b),
        ImportedUserId: Math.random() < 0.5 ? user(a) : user(b),
      };
    case 'ImportGroupMsg':
      return { ...message, FromUserId: user(a), GroupId: `g${randomInt(GROUPS)}` };
    case 'QueryPeerMsg':
      return { FromUserId: user(a), ToUserId: user(b), Limit: 20 };
    case 'QueryUserInfos':
      return { UserIds: Array.from({ length: 10 }, () => user(randomInt(USERS))) };
  }
}

/**
 * The generator must stay cheap so the emulator gets the CPU: queries are signed and bodies serialised ahead of the
 * run and cycled (the emulator still verifies every signature; nonces are not checked for reuse).
 */
const PREPARED = 512;

function signedPath(action: string): string {
  const query = new URLSearchParams({ Action: action, ...signZimRequest({ appId: APP_ID, serverSecret: SECRET }) });
  return `/?${query.toString()}`;
}

function prepare(): Record<Mix, Array<{ path: string; body: string }>> {
  const prepared = {} as Record<Mix, Array<{ path: string; body: string }>>;
  for (const [action] of MIX) {
    prepared[action] = Array.from({ length: PREPARED }, () => ({
      path: signedPath(action),
      body: JSON.stringify(requestBody(action)),
    }));
  }
  return prepared;
}

async function send(pool: Pool, path: string, body: string): Promise<number> {
  const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body });
  const text = await res.body.text();
  const code = /^\{"Code":(-?\d+)/.exec(text);
  return code ? Number(code[1]) : -1;
}

const call = (pool: Pool, action: string, body: object) => send(pool, signedPath(action), JSON.stringify(body));

async function seed(pool: Pool): Promise<void> {
  for (let i = 0; i < USERS; i += 100) {
    const UserInfo = Array.from({ length: Math.min(100, USERS - i) }, (_, k) => ({ UserId: user(i + k) }));
    if ((await call(pool, 'UserRegister', { UserInfo })) !== 0) throw new Error('seeding users failed');
  }
  for (let g = 0; g < GROUPS; g++) {
    const members = Array.from({ length: 50 }, () => user(randomInt(USERS)));
    if ((await call(pool, 'CreateGroup', { GroupId: `g${g}`, GroupOwner: user(g), UserId: members })) !== 0) {
      throw new Error('seeding groups failed');
    }
  }
}

async function runLoad(args: Args): Promise<void> {
  const pool = new Pool(args.url!, {
    connections: args.connections,
    keepAliveTimeout: 30_000,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  await seed(pool);
  const prepared = prepare();
  let turn = 0;
  const start = performance.now();
  const measureFrom = start + args.warmupMs;
  const end = measureFrom + args.durationMs;
  const latencies: number[] = [];
  const byAction: Record<string, number> = {};
  let completed = 0;
  let nonZeroCodes = 0;
  let transportErrors = 0;

  async function worker(): Promise<void> {
    for (let now = performance.now(); now < end; now = performance.now()) {
      const action = pickAction();
      const { path, body } = prepared[action][turn++ % PREPARED]!;
      const t0 = performance.now();
      try {
        const code = await send(pool, path, body);
        if (t0 >= measureFrom) {
          completed += 1;
          byAction[action] = (byAction[action] ?? 0) + 1;
          latencies.push(performance.now() - t0);
          if (code !== 0) nonZeroCodes += 1;
        }
      } catch {
        transportErrors += 1;
      }
    }
  }
  const emulatorCpu = async () => {
    const res = await pool.request({ method: 'GET', path: '/_emulator/health' });
    return (JSON.parse(await res.body.text()) as { cpuMicros: number }).cpuMicros;
  };
  // Samples the emulator's CPU time over exactly the measured window.
  const cpuAtStart = new Promise<number>((resolve, reject) =>
    setTimeout(() => void emulatorCpu().then(resolve, reject), args.warmupMs)
  );
  await Promise.all(Array.from({ length: args.connections }, worker));
  const emulatorCpuMicros = (await emulatorCpu()) - (await cpuAtStart);
  await pool.close();
  latencies.sort((x, y) => x - y);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  console.log(
    JSON.stringify({
      completed,
      seconds: args.durationMs / 1000,
      byAction,
      nonZeroCodes,
      transportErrors,
      p50: pct(0.5),
      p99: pct(0.99),
      emulatorCpuMicros,
    })
  );
}

// ---------------------------------------------------------------- driver (parent process)

const LoadResult = z.object({
  completed: z.number(),
  seconds: z.number(),
  byAction: z.record(z.string(), z.number()),
  nonZeroCodes: z.number(),
  transportErrors: z.number(),
  p50: z.number(),
  p99: z.number(),
  emulatorCpuMicros: z.number(),
});

/** The first stdout match of a child process; fails if it exits first or takes longer than `timeoutMs`. */
function firstLineMatching(
  child: ChildProcess,
  pattern: RegExp,
  what: string,
  timeoutMs: number
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not report within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before reporting: ${seen}`));
    });
  });
}

async function drive(args: Args): Promise<void> {
  const root = projectRoot();
  const emulator = spawn(
    process.execPath,
    [
      path.join(root, 'bin/zim-migrate.js'),
      'emulator',
      '--app-id',
      String(APP_ID),
      '--port',
      '0',
      '--no-rate-limits',
      '--ordering',
      'lenient',
    ],
    { env: { ...process.env, ZIM_SERVER_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'inherit'] }
  );
  try {
    const [, url] = await firstLineMatching(emulator, /listening on (http:\/\/127\.0\.0\.1:\d+)/, 'emulator', 30_000);
    const loadgen = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        __filename,
        '--role=loadgen',
        `--url=${url}`,
        `--duration-ms=${args.durationMs}`,
        `--warmup-ms=${args.warmupMs}`,
        `--connections=${args.connections}`,
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] }
    );
    const [line] = await firstLineMatching(
      loadgen,
      /\{"completed".*\}\n/,
      'load generator',
      args.warmupMs + args.durationMs + 60_000
    );
    const r = LoadResult.parse(JSON.parse(line));
    const health = (await (await fetch(`${url}/_emulator/health`)).json()) as { rssBytes: number };
    const state = (await (await fetch(`${url}/_emulator/state`)).json()) as { messages: { total: number } };
    const rps = r.completed / r.seconds;
    const mix = Object.entries(r.byAction)
      .map(([a, n]) => `${a} ${((100 * n) / r.completed).toFixed(0)}%`)
      .join(', ');
    console.log(`ZIM emulator capacity (rate limits off, loopback, separate load-generator process)`);
    console.log(`  requests/s:        ${rps.toFixed(0)}  (${r.completed} calls in ${r.seconds} s after warm-up)`);
    console.log(`  mix:               ${mix}`);
    console.log(
      `  latency:           p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${args.connections} connections`
    );
    const cpuPerCall = r.emulatorCpuMicros / r.completed;
    console.log(
      `  emulator CPU:      ${cpuPerCall.toFixed(0)} µs per call (user+system) → ` +
        `${(1e6 / cpuPerCall).toFixed(0)} calls/s per fully available core`
    );
    console.log(`  errors:            ${r.nonZeroCodes} non-zero Codes, ${r.transportErrors} transport errors`);
    console.log(
      `  emulator:          ${state.messages.total} messages stored, RSS ${(health.rssBytes / 2 ** 20).toFixed(0)} MiB`
    );
    console.log(`  machine:           ${cpus().length} cores, load average ${loadAverageText()}`);
    if (r.transportErrors > 0 || r.nonZeroCodes > 0) process.exitCode = 1;
  } finally {
    emulator.kill('SIGTERM');
  }
}

const args = parseArgs(process.argv.slice(2));
(args.role === 'loadgen' ? runLoad(args) : drive(args)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
