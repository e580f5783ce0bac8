/**
 * A Temporal dev server (`temporal server start-dev`) run as our own child process on a SQLite database file, so
 * that it can be killed like a crashing server and started again on the same file and port. The SDK's test
 * environment (start-dev-server.ts) hides its process; chaos runs need to hold it.
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
}

export interface DevServerProcess {
  /** host:port for TEMPORAL_ADDRESS and Connection.connect. */
  readonly address: string;
  readonly port: number;
  /** SIGKILL, as a crash: nothing is flushed beyond what SQLite already committed. Waits for the exit. */
  kill(): Promise<void>;
  /** Starts it again on the same database file and port, and waits until it answers. */
  start(): Promise<void>;
  /** Kills it if it runs; safe to call twice. */
  stop(): Promise<void>;
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
    '--headless',
    '--log-level',
    'warn',
    ...SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${CLI_TYPE[a.type]}`]),
    ...Object.entries(options.sqlitePragmas ?? {}).flatMap(([k, v]) => ['--sqlite-pragma', `${k}=${v}`]),
    ...Object.entries(options.dynamicConfig ?? {}).flatMap(([k, v]) => [
      '--dynamic-config-value',
      `${k}=${JSON.stringify(v)}`,
    ]),
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function waitUntilServing(deadline: number): Promise<void> {
    for (;;) {
      if (child?.exitCode !== null || child.signalCode !== null)
        throw new Error(`the Temporal dev server exited at start (see ${options.logFile})`);
      const connection = await Connection.connect({ address, connectTimeout: 1_000 }).catch(() => undefined);
      try {
        // The namespace answering means persistence is open and the frontend serves requests.
        if (connection) {
          await connection.workflowService.describeNamespace({ namespace: 'default' });
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

  const handle: DevServerProcess = {
    address,
    port,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('dev server already runs');
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
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: () => handle.kill(),
  };
  await handle.start();
  return handle;
}
