/**
 * A Temporal dev server (`temporal server start-dev`) run as our own child process on a SQLite database file, its
 * output in a log file, so that it can be killed like a crashing server and started again on the same file and
 * port. The SDK's test environment (start-dev-server.ts) hides its process and prints the server's log lines into
 * ours; chaos runs need to hold the process, and `zim-migrate dev` needs its log out of the way and its end in hand.
 */
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { serverChild } from '../process/server-child';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { locateTemporalCli } from '../temporal-cli/locate';
import { FLAG_STUCK_RUNS_SOONER } from '../worker/stuck-run-repair';

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
    ...Object.entries({ ...FLAG_STUCK_RUNS_SOONER, ...options.dynamicConfig }).flatMap(([k, v]) => [
      '--dynamic-config-value',
      `${k}=${JSON.stringify(v)}`,
    ]),
  ];
  const server = serverChild({
    name: 'the Temporal dev server',
    command: cli.path,
    args,
    logFile: options.logFile,
    stopSignal: 'SIGTERM',
    notReady: `the Temporal dev server did not answer on ${address} in time`,
    startTimeoutMs: options.startTimeoutMs,
    pollMs: 250,
    async ready() {
      if (options.signal?.aborted) throw new Error('the Temporal dev server start was aborted');
      const connection = await Connection.connect({ address, connectTimeout: 1_000 }).catch(() => undefined);
      if (!connection) return false;
      try {
        // The namespace answering means persistence is open and the frontend serves requests.
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        // Another server on the port would answer too, while ours fails to bind it and exits: make sure ours runs.
        await new Promise((r) => setTimeout(r, 300));
        return server.running();
      } catch {
        return false; // not yet
      } finally {
        await connection.close().catch(() => undefined);
      }
    },
  });

  const handle: DevServerProcess = {
    address,
    port,
    get pid() {
      return server.pid;
    },
    async start() {
      // Another server on the port would answer our readiness check while ours fails to bind it.
      for (const p of [port, options.uiPort])
        if (p !== undefined && !server.running() && !(await portIsFree(p)))
          throw new Error(`port ${p} is in use: the Temporal dev server cannot listen on it`);
      await server.start();
    },
    kill: () => server.kill(),
    stop: (graceMs) => server.stop(graceMs),
  };
  await handle.start();
  return handle;
}
