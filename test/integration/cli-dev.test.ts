/**
 * `zim-migrate dev` as a user runs it: a real process (with its Temporal dev server, emulator and worker) on a tiny
 * sample at a high rate, on free ports. Every process a test starts is ended in its `finally`, even on failure.
 *
 * The tests run two at a time (each with its own folder and ports; only one uses the default ports), longest first,
 * and nothing in them blocks this process (a child process runs asynchronously), so one test's waits never delay
 * the other's.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, portIsFree } from '../../src/dev-server/dev-server-process';
import { readCallSchedule } from '../../src/rate-limit/read-call-schedule';
import { projectRoot } from '../../src/shared/project-root';
import { tempDir } from '../helpers/exports';

const BIN = path.join(projectRoot(), 'bin/zim-migrate.js');
const DAY = 86_400_000;
/** dev's ZIM app (src/cli/commands/dev.ts). */
const APP_ID = 1_000_001;
/** Generous: a rehearsal of 6 users at 200 calls/s takes about 20 s on a loaded 2-core machine. */
const RUN_MS = 150_000;
/** How long a stop may take: the worker, the emulator, the Temporal server (SIGTERM, SIGKILL after 5 s). */
const STOP_MS = 20_000;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = tempDir('dev');
  dirs.push(d);
  return d;
}

interface DevRun {
  child: ChildProcess;
  output(): string;
  waitFor(re: RegExp, ms: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Temporal server processes seen as children of dev (recorded by `temporalChildren`). */
  servers: Set<number>;
  temporalChildren(): number[];
  /** Ends what is left (a failed test): dev and any server it started, with SIGKILL. */
  cleanup(): Promise<void>;
}

function runDev(args: string[]): DevRun {
  // Its own process group, as a command started from a shell: Ctrl-C signals the whole group.
  const child = spawn(process.execPath, [BIN, 'dev', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (c: Buffer) => {
    out += c.toString();
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal }))
  );
  const servers = new Set<number>();
  const run: DevRun = {
    child,
    output: () => out,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${re} within ${ms} ms; output:\n${out}`));
        }, ms);
        const gone = () => {
          check();
          done();
          reject(new Error(`dev exited before ${re}; output:\n${out}`));
        };
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', gone);
        };
        listeners.add(check);
        child.once('exit', gone);
        check();
      }),
    exited,
    servers,
    temporalChildren() {
      let list = '';
      try {
        list = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(child.pid)], { encoding: 'utf8' });
      } catch {
        // ps exits 1 when there is no child
      }
      const pids = list
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter(([, comm]) => comm === 'temporal')
        .map(([pid]) => Number(pid));
      for (const p of pids) servers.add(p);
      return pids;
    },
    async cleanup() {
      if (child.exitCode === null && child.signalCode === null) {
        run.temporalChildren();
        process.kill(-child.pid!, 'SIGKILL'); // dev's process group: dev, its server, gen or plan
        await exited;
      }
      for (const p of servers) if (alive(p)) process.kill(p, 'SIGKILL');
    },
  };
  return run;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Exits within `ms`, or fails the test (the cleanup then kills it). */
async function exitWithin(run: DevRun, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`dev did not exit within ${ms} ms; output:\n${run.output()}`)), ms);
  });
  try {
    return await Promise.race([run.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface Blocker {
  readonly listening: boolean;
  /** Stops listening and drops whatever connected (a close alone would wait for those connections to end). */
  release(): Promise<void>;
}

/** Something listening on a port, as another Temporal server would (it accepts connections and never answers). */
function occupy(port: number): Promise<Blocker> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        get listening() {
          return server.listening;
        },
        release: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            for (const socket of sockets) socket.destroy();
          }),
      })
    );
  });
}

/** Ports handed out by this file: two tests running at once never get the same one. */
const handedOut = new Set<number>();
async function threeFreePorts(): Promise<[number, number, number]> {
  const ports: number[] = [];
  while (ports.length < 3) {
    const p = await freePort();
    if (handedOut.has(p)) continue;
    handedOut.add(p);
    ports.push(p);
  }
  return ports as [number, number, number];
}

/** Runs the CLI to its end without blocking this process, where another test runs meanwhile. */
function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(new Error(`zim-migrate did not run: ${err.message}`));
      else resolve({ status: err ? (err.code as number) : 0, stdout, stderr });
    })
  );
}

/** `zim-migrate gen` into `out`; fails the test if it fails. */
async function gen(out: string, args: string[]): Promise<void> {
  const r = await cli(['gen', '--out', out, ...args]);
  assert.equal(r.status, 0, r.stderr);
}

/** Nothing may still hold the rehearsal's ports, and no Temporal server of it may run. */
async function assertAllEnded(run: DevRun, ports: number[]): Promise<void> {
  for (const p of ports) assert.ok(await portIsFree(p), `port ${p} is still in use after dev exited`);
  assert.ok(run.servers.size > 0, 'the Temporal server process was never seen');
  for (const p of run.servers) assert.ok(!alive(p), `the Temporal server (pid ${p}) still runs after dev exited`);
}

describe('zim-migrate dev', { timeout: 10 * 60_000, concurrency: 2 }, () => {
  it('--rounds 3: the migration, then two catch-up rounds on evolving data, each verified (exit 0)', async () => {
    const root = scratch();
    const [port, uiPort] = await threeFreePorts();
    const run = runDev([
      ...['--dir', path.join(root, 'r'), '--users', '20', '--rate', '200', '--rounds', '3'],
      ...['--port', String(port), '--ui-port', String(uiPort)],
    ]);
    try {
      await run.waitFor(/Temporal server +127\.0\.0\.1/, RUN_MS);
      run.temporalChildren();
      const { code } = await exitWithin(run, RUN_MS);
      const out = run.output();
      assert.equal(code, 0, out);
      assert.match(out, /round 1: later export .*export-round-1 \(gen --evolve/);
      assert.match(out, /rehearsal-round-1 COMPLETED/);
      assert.match(out, /rehearsal-round-2 COMPLETED/);
      assert.match(out, /Rehearsal completed: 0 record\(s\) failed/);
      await assertAllEnded(run, [port, uiPort]);
    } finally {
      await run.cleanup();
    }
    // Rounds rehearse generated data (gen --evolve evolves it), staged in SQLite or PostgreSQL.
    const refused = await cli(['dev', '--rounds', '2', '--export', root]);
    assert.equal(refused.status, 2);
    assert.match(
      refused.stderr,
      /--rounds: catch-up rounds rehearse on a generated sample \(no --export or --source\)/
    );
  });

  it("rehearses an export with the customer's ZIM plan: plan and the emulator apply the same retention", async () => {
    // History 50 to 60 days old; as of 20 days ago with a 45-day retention, all of it is inside the retention.
    const root = scratch();
    const exportDir = path.join(root, 'export');
    const now = Date.now();
    await gen(exportDir, [
      ...['--users', '6', '--groups', '1', '--seed', '3'],
      ...['--end', String(now - 50 * DAY), '--days', '10'],
    ]);
    const [port, uiPort] = await threeFreePorts();
    const run = runDev([
      ...['--dir', path.join(root, 'r'), '--export', exportDir, '--rate', '200'],
      ...['--retention-days', '45', '--as-of', new Date(now - 20 * DAY).toISOString()],
      ...['--port', String(port), '--ui-port', String(uiPort)],
    ]);
    try {
      await run.waitFor(/Temporal server +127\.0\.0\.1/, RUN_MS);
      run.temporalChildren();
      const { code } = await exitWithin(run, RUN_MS);
      const out = run.output();
      assert.equal(code, 0, out);
      assert.match(out, /peer_messages +120 +120 +0 /); // read, ok, none expired
      assert.match(out, /45-day retention/);
      assert.match(out, /Rehearsal completed: 0 record\(s\) failed/);
      assert.match(out, /Verify: \d+ checks, all matched/);
      await assertAllEnded(run, [port, uiPort]);
    } finally {
      await run.cleanup();
    }
  });

  it('--coexist: capture before the export, the import handing off to the live mirror, traffic both ways, checked (exit 0)', async () => {
    const [port, uiPort] = await threeFreePorts();
    // 25 users: the sample holds a group (g0), which the legacy server must hold too, as the legacy system would.
    const run = runDev([
      ...['--dir', path.join(scratch(), 'r'), '--users', '25', '--rate', '200', '--coexist', '--coexist-rounds', '3'],
      ...['--port', String(port), '--ui-port', String(uiPort)],
    ]);
    try {
      await run.waitFor(/Temporal server +127\.0\.0\.1/, RUN_MS);
      run.temporalChildren();
      const { code } = await exitWithin(run, RUN_MS);
      const out = run.output();
      assert.equal(code, 0, out);
      // Capture and the sync start before the export is taken, the export before the import.
      const at = (text: string) => {
        const i = out.indexOf(text);
        assert.ok(i >= 0, `${text} not in:\n${out}`);
        return i;
      };
      assert.ok(
        at('capture on, sync "rehearsal"') <
          at('5 legacy messages sent after capture started, before the export (1 of them to be left out of it)')
      );
      assert.ok(at('before the export (1') < at('the export taken:'));
      assert.ok(at('the export taken:') < at('validating and staging'));
      assert.ok(at('4 legacy messages sent after the export, before the import') < at('migration started'));
      // 4 conversations (three pairs and a group). Legacy: a round before the export (in the export and captured:
      // held, then dropped by id as in the history), one before the import (held, then released), one once each
      // conversation is imported, 3 after the import; ZIM: the last 4 rounds. Each message exactly once. And one
      // legacy message the export left out, older than its conversation's watermark: held, dropped, not in ZIM.
      assert.match(
        out,
        /^coexist: 24 messages legacy→ZIM, 16 ZIM→legacy, 0 lost, 0 duplicated, 0 echoed; import handoff: 9 held, 5 dropped as in the history, 4 released, 0 parked; the message left out of the export \(older than the watermark\): 0 in ZIM; stop audit: 0 divergences found, 0 repaired$/m
      );
      assert.match(
        out,
        /import handoff: 9 legacy messages held, 5 dropped \(in the history\), 4 released, 0 parked; 0 conversations waiting/
      );
      // 20 mirrored legacy→ZIM (the 5 dropped were not mirrored), 16 ZIM→legacy: each echo suppressed.
      assert.match(out, /legacy→ZIM +20 mirrored/);
      assert.match(out, /echoes suppressed 36;/);
      // And the sample's group: the import's CreateGroup fires its callbacks. Both sides hold it: nothing to audit.
      assert.match(out, /closed 5 conversation workflows/);
      // The live messages in ZIM are not the import's: verify compares what it imported, and all of it matched.
      assert.match(out, /Rehearsal completed: 0 record\(s\) failed/);
      assert.match(out, /Verify: \d+ checks, all matched/);
      const servers = /legacy server http:\/\/127\.0\.0\.1:(\d+), receiver http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      assert.ok(servers, out);
      await assertAllEnded(run, [port, uiPort, Number(servers[1]), Number(servers[2])]);
    } finally {
      await run.cleanup();
    }
  });

  it('--coexist --staging postgres: the handoff reads the staging in a local PostgreSQL, its password by environment only (exit 0)', async () => {
    const dir = path.join(scratch(), 'r');
    const [port, uiPort] = await threeFreePorts();
    const run = runDev([
      ...['--dir', dir, '--users', '6', '--rate', '200', '--coexist', '--coexist-rounds', '3'],
      ...['--staging', 'postgres', '--port', String(port), '--ui-port', String(uiPort)],
    ]);
    try {
      const [, pgPort] = await run.waitFor(/PostgreSQL postgres:\/\/zim@127\.0\.0\.1:(\d+)\/zim_migrate/, RUN_MS);
      // Written before the line above; deleted with the server.
      const password = readFileSync(path.join(dir, 'postgres_password'), 'utf8').trim();
      assert.ok(password.length >= 16);
      await run.waitFor(/Temporal server +127\.0\.0\.1/, RUN_MS);
      run.temporalChildren();
      const { code } = await exitWithin(run, RUN_MS);
      const out = run.output();
      assert.equal(code, 0, out);
      assert.match(out, /Staged in postgres:\/\/zim@127\.0\.0\.1:\d+\/zim_migrate\?schema=rehearsal/);
      // The same check as on SQLite: the handoff dropped what the staged history holds and released the rest.
      assert.match(
        out,
        /^coexist: 24 messages legacy→ZIM, 16 ZIM→legacy, 0 lost, 0 duplicated, 0 echoed; import handoff: 9 held, 5 dropped as in the history, 4 released, 0 parked; the message left out of the export \(older than the watermark\): 0 in ZIM; stop audit: 0 divergences found, 0 repaired$/m
      );
      assert.match(out, /Verify: \d+ checks, all matched/);
      // The password reached the handoff by environment: not in the output, nor in any file left (Temporal's
      // database holds the workflows' inputs and histories).
      assert.ok(!out.includes(password), 'the PostgreSQL password was printed');
      assert.ok(!existsSync(path.join(dir, 'postgres_password')));
      for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
        const file = path.join(dir, f);
        if (statSync(file).isFile()) assert.ok(!readFileSync(file).includes(password), `the password is in ${f}`);
      }
      const servers = /legacy server http:\/\/127\.0\.0\.1:(\d+), receiver http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      assert.ok(servers, out);
      await assertAllEnded(run, [port, uiPort, Number(pgPort), Number(servers[1]), Number(servers[2])]);
    } finally {
      await run.cleanup();
    }
  });

  it('--staging postgres --workers 2: a local PostgreSQL and 2 worker processes, all ended with it', async () => {
    const root = scratch();
    const dir = path.join(root, 'r');
    const [port, uiPort] = await threeFreePorts();
    const run = runDev([
      ...['--dir', dir, '--users', '6', '--rate', '200', '--staging', 'postgres', '--workers', '2'],
      ...['--port', String(port), '--ui-port', String(uiPort)],
    ]);
    try {
      const [, pgPort] = await run.waitFor(/PostgreSQL postgres:\/\/zim@127\.0\.0\.1:(\d+)\/zim_migrate/, RUN_MS);
      await run.waitFor(/Temporal server +127\.0\.0\.1/, RUN_MS);
      run.temporalChildren();
      const [, pids] = await run.waitFor(/2 worker process\(es\) polling \(pids ([\d, ]+)\)/, RUN_MS);
      const { code } = await exitWithin(run, RUN_MS);
      const out = run.output();
      assert.equal(code, 0, out);
      assert.match(out, /Staged in postgres:\/\/zim@127\.0\.0\.1:\d+\/zim_migrate\?schema=rehearsal/);
      assert.match(out, /Rehearsal completed: 0 record\(s\) failed/);
      assert.match(out, /Verify: \d+ checks, all matched/);
      assert.match(
        out,
        /Workers: 2 process\(es\), staging postgres:\/\/zim@[^ ]+schema=rehearsal, call schedule postgres:/
      );
      for (const n of [1, 2])
        assert.match(readFileSync(path.join(dir, `worker-${n}.log`), 'utf8'), /call schedule postgres:\/\/zim@/);
      await assertAllEnded(run, [port, uiPort, Number(pgPort)]);
      for (const pid of pids!.split(', ').map(Number)) assert.ok(!alive(pid), `worker ${pid} still runs`);
    } finally {
      await run.cleanup();
    }
  });

  for (const [signal, exitCode] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`--keep-open: states verify's result, keeps the server's log apart, and stops on ${signal} (${exitCode})`, async () => {
      const dir = path.join(scratch(), 'r');
      const [port, uiPort, zimPort] = await threeFreePorts();
      const run = runDev([
        ...['--dir', dir, '--users', '6', '--rate', '200', '--keep-open'],
        ...['--port', String(port), '--ui-port', String(uiPort), '--zim-port', String(zimPort)],
      ]);
      try {
        await run.waitFor(/servers stay up/, RUN_MS);
        const out = run.output();
        assert.match(out, /Rehearsal completed: 0 record\(s\) failed/);
        assert.match(out, /Verify: \d+ checks, all matched/);
        // The emulator runs in its own process, as ZIM is apart from the workers, and says what it counted.
        assert.match(out, /ZIM emulator: [\d,]+ calls, 0 answered "too frequent" \(0\.00%\)/);
        assert.ok(existsSync(path.join(dir, 'zim-emulator.log')));
        assert.match(out, new RegExp(`ZIM emulator +http://127\\.0\\.0\\.1:${zimPort} `));
        const log = path.join(dir, 'temporal-server.log');
        assert.ok(out.includes(`Temporal server log: ${log}`), out);
        assert.ok(existsSync(log));
        // The server's own log lines (level=WARN ...) go to its log file, not into dev's output.
        assert.doesNotMatch(out, /level=(WARN|ERROR)/);
        // --rate raised the app-wide budgets only; per-group ones stay at the emulator's 1/s per group.
        const schedule = readCallSchedule(path.join(dir, 'call-budgets.sqlite'), APP_ID);
        assert.ok(schedule.some((r) => r.action === 'ImportPeerMsg' && r.rate === 200));
        for (const r of schedule) {
          assert.equal(r.refusals, 0, `${r.action}: "too frequent" answers`);
          if (r.perKey) assert.ok(r.rate <= 1, `${r.action}: ${r.rate}/s per group, above the emulator's 1/s`);
        }
        assert.equal(run.temporalChildren().length, 1);
        // kill sends SIGTERM to dev alone; Ctrl-C sends SIGINT to its whole process group (the server too).
        if (signal === 'SIGINT') process.kill(-run.child.pid!, signal);
        else run.child.kill(signal);
        const { code } = await exitWithin(run, STOP_MS);
        assert.equal(code, exitCode, run.output());
        assert.doesNotMatch(run.output(), /IllegalStateError|Error:/);
        await assertAllEnded(run, [port, uiPort, zimPort]);
      } finally {
        await run.cleanup();
      }
    });
  }

  it('moves off a busy default port and says which it uses; SIGTERM mid-run stops everything (143)', async () => {
    // Whoever holds 7233 and 8233 (us, for a few seconds, or someone else), dev must move to free ports.
    const blockers = await Promise.all([7233, 8233].map(async (p) => ((await portIsFree(p)) ? occupy(p) : undefined)));
    const run = runDev(['--dir', path.join(scratch(), 'r'), '--users', '6', '--rate', '200']);
    try {
      const grpc = Number((await run.waitFor(/Temporal server +127\.0\.0\.1:(\d+)/, RUN_MS))[1]);
      const ui = Number((await run.waitFor(/Temporal UI +http:\/\/localhost:(\d+)/, 1_000))[1]);
      const zim = Number((await run.waitFor(/ZIM emulator +http:\/\/127\.0\.0\.1:(\d+)/, 1_000))[1]);
      for (const b of blockers) if (b) await b.release();
      assert.notEqual(grpc, 7233);
      assert.notEqual(ui, 8233);
      assert.match(run.output(), new RegExp(`port 7233 is in use: the Temporal server uses port ${grpc}`));
      assert.match(run.output(), new RegExp(`port 8233 is in use: the Temporal UI uses port ${ui}`));
      assert.match(run.output(), new RegExp(`TEMPORAL_ADDRESS=127\\.0\\.0\\.1:${grpc}`));
      assert.equal(run.temporalChildren().length, 1);
      run.child.kill('SIGTERM');
      const { code } = await exitWithin(run, STOP_MS);
      assert.equal(code, 143, run.output());
      await assertAllEnded(run, [grpc, ui, zim]);
    } finally {
      for (const b of blockers) if (b?.listening) await b.release();
      await run.cleanup();
    }
  });

  it('checks its flags: a fractional rate, an --as-of in the future, one port twice, --workers, --staging, --coexist (exit 2)', async () => {
    const [p] = await threeFreePorts();
    const checks: Promise<void>[] = [];
    for (const [flags, message] of [
      [['--rate', '2.5'], /--rate must be a whole number/],
      [['--as-of', String(Date.now() + 2 * DAY)], /--as-of must not be in the future/],
      [['--port', String(p), '--zim-port', String(p)], /must differ/],
      [['--retention-days', 'many'], /--retention-days must be a number/],
      [['--workers', '0'], /--workers must be at least 1/],
      // Catch-up rounds after coexistence started would import what the live mirror sent.
      [['--coexist', '--rounds', '2'], /--coexist and --rounds > 1 exclude each other/],
      [
        ['--staging', 'mysql://h/db'],
        /--staging must be sqlite, postgres, or a postgres:\/\/user@host:5432\/database URL/,
      ],
      // A password in the URL would be stored in the workflow's input: refused, and never echoed.
      [
        ['--staging', 'postgres://zim:hunter2-pw@db.internal/zim'],
        /postgres:\/\/zim:\*\*\*@db\.internal\/zim\S* holds a password/,
      ],
    ] as const)
      // Side by side: each refusal is its own process and starts nothing, so they cannot disturb one another.
      checks.push(
        (async () => {
          const run = runDev(['--dir', path.join(scratch(), 'r'), ...flags]);
          try {
            const { code } = await exitWithin(run, 30_000);
            assert.equal(code, 2, run.output());
            assert.match(run.output(), message);
            assert.doesNotMatch(run.output(), /hunter2-pw/);
          } finally {
            await run.cleanup();
          }
        })()
      );
    // --coexist rehearses the handoff from before the export on: a folder that holds a staging already is refused.
    checks.push(
      (async () => {
        const dir = path.join(scratch(), 'r');
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'staging.sqlite'), '');
        const run = runDev(['--dir', dir, '--coexist']);
        try {
          const { code } = await exitWithin(run, 30_000);
          assert.equal(code, 2, run.output());
          assert.match(
            run.output(),
            /--coexist rehearses the handoff from before the export on: .*already holds a staging \(give a new --dir\)/
          );
          // Refused before anything starts. (Choosing the ports comes first and may say that 7233 is taken, by a
          // sibling check of this test, so the assertion names the start itself.)
          assert.doesNotMatch(run.output(), /starting the Temporal dev server/);
        } finally {
          await run.cleanup();
        }
      })()
    );
    const outcomes = await Promise.allSettled(checks);
    for (const o of outcomes) if (o.status === 'rejected') throw o.reason;
  });

  it('refuses a busy port given with --port, --ui-port or --zim-port (exit 2, naming the port and the fix)', async () => {
    for (const flag of ['--port', '--ui-port', '--zim-port']) {
      const [busy, a, b] = await threeFreePorts();
      const free = [a, b];
      const flags = ['--port', '--ui-port', '--zim-port']
        .filter((f) => f !== flag)
        .flatMap((f, i) => [f, String(free[i])]);
      const blocker = await occupy(busy);
      const run = runDev(['--dir', path.join(scratch(), 'r'), '--users', '4', flag, String(busy), ...flags]);
      try {
        const { code } = await exitWithin(run, 30_000);
        assert.equal(code, 2, run.output());
        assert.match(run.output(), new RegExp(`${flag} ${busy}: the port is in use`));
        assert.match(run.output(), new RegExp(`pass another port, or leave ${flag} out`));
        assert.deepEqual(run.temporalChildren(), []);
      } finally {
        await run.cleanup();
        await blocker.release();
      }
    }
  });

  it("stops at plan's errors before starting any server, naming dev's own flags as the fix (exit 1)", async () => {
    const root = scratch();
    const exportDir = path.join(root, 'export');
    await gen(exportDir, ['--users', '8', '--groups', '2']);
    const run = runDev(['--dir', path.join(root, 'r'), '--export', exportDir, '--max-group-members', '2']);
    try {
      const { code } = await exitWithin(run, 60_000);
      const out = run.output();
      assert.equal(code, 1, out);
      assert.match(out, /plan refused the export \(the flags its fixes name are flags of zim-migrate dev too\)/);
      assert.match(out, /the pro plan allows 2/);
      assert.match(out, /--exclude-errors/);
      assert.ok(!existsSync(path.join(root, 'r', 'temporal-server.log')), 'a Temporal server was started');
      assert.ok(readFileSync(path.join(root, 'r', 'rejects.ndjson'), 'utf8').includes('cap.group-members'));
    } finally {
      await run.cleanup();
    }
  });
});
