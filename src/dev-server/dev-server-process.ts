/**
 * A Temporal dev server (`temporal server start-dev`) run as our own child process on a SQLite database file, its
 * output in a log file, so that it can be killed like a crashing server and started again on the same file and
 * port. The SDK's test environment (start-dev-server.ts) hides its process and prints the server's log lines into
 * ours; chaos runs need to hold the process, and `zim-migrate dev` needs its log out of the way and its end in hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { locateTemporalCli } from '../temporal-cli/locate';

export interface DevServerProcessOptions {
  /** The SQLite file that holds every workflow across restarts. */
  dbFilename: string;
  /** gRPC port on 127.0.0.1; a free one when absent. */
  port?: number;
  /** The server's stdout and stderr are appended here. */
  logFile: string;
  /** How long one start may take until the namespace answers. Default 60 s. */
  startTimeoutMs?: number;
  dynamicConfig?: Record<string, unknown>;
  /** `--sqlite-pragma` settings, e.g. { journal_mode: 'wal' }. */
  sqlitePragmas?: Record<string, string>;
  /** Serve the Temporal UI on this port (of 127.0.0.1); headless when absent. */
  uiPort?: number;
  /** Aborting it while a start waits for the server to answer ends that start (and the server) at once. */
  signal?: AbortSignal;
}

export interface DevServerProcess {
  /** host:port for TEMPORAL_ADDRESS and Connection.connect. */
  readonly address: string;
  readonly port: number;
  /** SIGKILL, as a crash: nothing is flushed beyond what SQLite already committed. Waits for the exit. */
  kill(): Promise<void>;
  /** Starts it again on the same database file and port, and waits until it answers. */
  start(): Promise<void>;
  /**
   * Ends it if it runs: SIGTERM, then SIGKILL if it has not exited after `graceMs` (default 5 s). Waits for the
   * exit, so its ports are free when this resolves. Safe to call twice.
   */
  stop(graceMs?: number): Promise<void>;
  /** The server process's id while it runs. */
  readonly pid: number | undefined;
}

/** Whether nothing listens on this TCP port of the loopback interface (the address our servers bind). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(false) : reject(err)
    );
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** A TCP port that was free a moment ago on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The CLI's spelling of each search attribute type. */
const CLI_TYPE: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export async function startDevServerProcess(options: DevServerProcessOptions): Promise<DevServerProcess> {
  const cli = await locateTemporalCli();
  if (cli.source === 'sdk-download')
    throw new Error('A dev server process needs a Temporal CLI binary on disk (run: npm run temporal:install)');
  const port = options.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    options.dbFilename,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    ...(options.uiPort === undefined
      ? ['--headless']
      : ['--ui-port', String(options.uiPort), '--ui-disable-news-fetch']),
    '--log-level',
    'warn',
    // As the SDK's dev server: no call home for a version check.
    '--dynamic-config-value',
    'frontend.enableServerVersionCheck=false',
    ...SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${CLI_TYPE[a.type]}`]),
    ...Object.entries(options.sqlitePragmas ?? {}).flatMap(([k, v]) => ['--sqlite-pragma', `${k}=${v}`]),
    ...Object.entries(options.dynamicConfig ?? {}).flatMap(([k, v]) => [
      '--dynamic-config-value',
      `${k}=${JSON.stringify(v)}`,
    ]),
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  async function waitUntilServing(deadline: number): Promise<void> {
    for (;;) {
      if (!running()) throw new Error(`the Temporal dev server exited at start (see ${options.logFile})`);
      if (options.signal?.aborted) throw new Error('the Temporal dev server start was aborted');
      const connection = await Connection.connect({ address, connectTimeout: 1_000 }).catch(() => undefined);
      try {
        // The namespace answering means persistence is open and the frontend serves requests.
        if (connection) {
          await connection.workflowService.describeNamespace({ namespace: 'default' });
          // Another server on the port would answer too, while ours fails to bind it and exits: make sure ours runs.
          await new Promise((r) => setTimeout(r, 300));
          if (!running()) continue;
          return;
        }
      } catch {
        // not yet
      } finally {
        await connection?.close().catch(() => undefined);
      }
      if (Date.now() > deadline) throw new Error(`the Temporal dev server did not answer on ${address} in time`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  // A server must not outlive us, whatever ends this process (an error, process.exit); SIGKILL of us excepted.
  const killOnExit = () => {
    if (running()) child?.kill('SIGKILL');
  };

  const handle: DevServerProcess = {
    address,
    port,
    get pid() {
      return running() ? child?.pid : undefined;
    },
    async start() {
      if (running()) throw new Error('dev server already runs');
      // Another server on the port would answer our readiness check while ours fails to bind it.
      for (const p of [port, options.uiPort])
        if (p !== undefined && !(await portIsFree(p)))
          throw new Error(`port ${p} is in use: the Temporal dev server cannot listen on it`);
      process.off('exit', killOnExit);
      process.on('exit', killOnExit);
      const log = openSync(options.logFile, 'a');
      try {
        child = spawn(cli.path, args, { stdio: ['ignore', log, log] });
      } finally {
        closeSync(log);
      }
      const current = child;
      exited = new Promise((resolve) => current.once('exit', () => resolve()));
      try {
        await waitUntilServing(Date.now() + (options.startTimeoutMs ?? 60_000));
      } catch (err) {
        await handle.stop();
        throw err;
      }
    },
    async kill() {
      if (running()) child?.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 5_000) {
      if (running()) {
        child?.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
        if ((await Promise.race([exited, late])) === 'late') child?.kill('SIGKILL');
        clearTimeout(timer);
      }
      await exited;
      process.off('exit', killOnExit);
    },
  };
  await handle.start();
  return handle;
}
