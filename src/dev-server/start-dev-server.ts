/**
 * Starts a real Temporal dev server (`temporal server start-dev`) through @temporalio/testing, with our custom
 * search attributes registered. Used by the test harness and the benchmarks; `zim-migrate dev` runs the server as
 * its own child process instead (dev-server-process.ts), to keep its log in a file and end it on every exit path.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { FLAG_STUCK_RUNS_SOONER } from '../worker/stuck-run-repair';
import { devServerExecutable, locateTemporalCli, type TemporalCli } from '../temporal-cli/locate';

export interface DevServerOptions {
  /** SQLite file that makes the server's state survive a restart; in-memory when absent. */
  dbFilename?: string;
  port?: number;
  /** Serve the Temporal UI (on `uiPort`, or port + 1000). */
  ui?: boolean;
  uiPort?: number;
  /** Extra `--dynamic-config-value KEY=JSON` settings, e.g. a low continue-as-new threshold in tests. */
  dynamicConfig?: Record<string, unknown>;
  log?: (line: string) => void;
}

export interface DevServer {
  env: TestWorkflowEnvironment;
  cli: TemporalCli;
  address: string;
  /** The Temporal UI's base URL, when `ui` was asked for. */
  uiUrl?: string;
  stop(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = await locateTemporalCli({ log: options.log });
  const extraArgs = Object.entries({ ...FLAG_STUCK_RUNS_SOONER, ...options.dynamicConfig }).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
  // The UI would otherwise fetch a newsfeed from the internet on every page (offline machines, headless tests).
  if (options.ui) extraArgs.push('--ui-disable-news-fetch');
  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: devServerExecutable(cli),
        dbFilename: options.dbFilename,
        port: options.port,
        ui: options.ui,
        uiPort: options.uiPort,
        searchAttributes: [...SEARCH_ATTRIBUTES],
        extraArgs,
      },
    });
  } catch (err) {
    const where = cli.source === 'sdk-download' ? 'downloaded by the SDK' : `at ${cli.path} (${cli.source})`;
    throw new Error(`Could not start the Temporal dev server ${where}: ${(err as Error).message}`, { cause: err });
  }
  // The SDK picks a free port; read back what it used so callers can print it or hand it to other processes.
  const address = (env.connection.options as { address?: string }).address ?? 'unknown';
  return {
    env,
    cli,
    address,
    uiUrl: options.ui ? uiUrlOf(address, options.uiPort) : undefined,
    stop: () => env.teardown(),
  };
}

/** Where the SDK's dev server serves the UI: `uiPort`, else the gRPC port + 1000 (see TestWorkflowEnvironment). */
function uiUrlOf(address: string, uiPort: number | undefined): string | undefined {
  const grpcPort = Number(/:(\d+)$/.exec(address)?.[1]);
  const port = uiPort ?? (Number.isInteger(grpcPort) ? grpcPort + 1000 : undefined);
  return port === undefined ? undefined : `http://localhost:${port}`;
}
