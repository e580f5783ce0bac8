/** Builds staging files through the real CLI (gen, then plan) and starts emulators sized for fast tests. */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MIGRATION_ACTIONS } from '../shared/stages';
import { startZimEmulator, type EmulatorOptions, type FaultsInput } from '../zim-emulator';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');

export const TEST_APP_ID = 424242;
export const TEST_SECRET = '0123456789abcdef0123456789abcdef';
/** Budgets far above ZIM's so tests run in seconds; the emulator enforces the same numbers. */
export const FAST_RATE = 400;
export const budgetsAt = (rate: number) => Object.fromEntries(MIGRATION_ACTIONS.map((a) => [a, rate]));
export const FAST_BUDGETS = budgetsAt(FAST_RATE);

export interface StagingArgs {
  /** Extra `zim-migrate gen` flags (e.g. --groups 3: small exports have none by default; --messages 20000). */
  gen?: string[];
  /** Extra `zim-migrate plan` flags (e.g. --rate ImportPeerMsg=100). */
  plan?: string[];
  /** Where to build (plan writes its rejects file there too); a new temporary folder by default. */
  dir?: string;
}

/** gen + plan through the CLI; returns a staging file that `fresh()` copies for each run (the ledger lives in it). */
export async function buildStaging(users: number, seed: number, args: StagingArgs = {}) {
  const dir = args.dir ?? mkdtempSync(path.join(tmpdir(), 'rig-'));
  // In the temp folder: plan writes its rejects file to the working directory.
  const opts = { cwd: dir };
  const gen = [BIN, 'gen', '--out', 'export', '--users', String(users), '--seed', String(seed), ...(args.gen ?? [])];
  await exec(process.execPath, gen, opts);
  const staging = path.join(dir, 'staging.sqlite');
  await exec(process.execPath, [BIN, 'plan', 'export', '--out', staging, ...(args.plan ?? [])], opts);
  let n = 0;
  return {
    dir,
    /** The staging file as planned (read it, never migrate into it: `fresh()` gives a copy for that). */
    planned: staging,
    fresh(): string {
      const copy = path.join(dir, `run-${++n}.sqlite`);
      copyFileSync(staging, copy);
      return copy;
    },
  };
}

/**
 * An emulator on loopback that enforces `rate` calls/s per Action, or each Action's own budget (the budgets given to
 * the migration); `limits` overrides the Pro plan's (e.g. the retention and member cap that `plan` was given).
 */
export function startFastEmulator(
  faults: FaultsInput = {},
  rate: number | Record<string, number> = FAST_RATE,
  limits: EmulatorOptions['limits'] = {}
) {
  return startZimEmulator({
    appId: TEST_APP_ID,
    serverSecret: TEST_SECRET,
    limits,
    rateLimits: {
      enabled: true,
      perSecond: typeof rate === 'number' ? budgetsAt(rate) : rate,
      perGroupPerSecond: { InviteUsersIntoGroup: 50, SetGroupMembersNickname: 50 },
      codes: {},
    },
    faults,
  });
}
