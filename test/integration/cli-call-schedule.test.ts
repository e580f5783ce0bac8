/** `zim-migrate call-schedule` as an operator runs it: which schedule file and app it reads when none is named. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SqliteCallScheduler } from '../../src/rate-limit/call-scheduler';
import { projectRoot } from '../../src/shared/project-root';
import { tempDir } from '../helpers/exports';

const BIN = path.join(projectRoot(), 'bin', 'zim-migrate.js');
/** The AppID zim-migrate dev gives its emulator. */
const REHEARSAL_APP = 1000001;

/** Runs the CLI in `cwd` with a home of its own and no ZIM or config settings from this environment. */
function cli(cwd: string, home: string, ...args: string[]) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('ZIM_') && !k.startsWith('TEMPORAL_'))
  );
  const r = spawnSync(process.execPath, [BIN, 'call-schedule', ...args], {
    cwd,
    env: { ...env, HOME: home },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function schedule(file: string, apps: number[]): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  for (const appId of apps) {
    const scheduler = new SqliteCallScheduler(file, { appId, sleep: async () => undefined });
    await scheduler.acquire('UserRegister');
    await scheduler.acquire('ImportPeerMsg');
    await scheduler.close();
  }
}

describe('zim-migrate call-schedule', () => {
  it("reads a rehearsal's schedule without --app-id or --budget-db: the rehearsal default, or --dir", async () => {
    const home = tempDir('schedule-home');
    const project = tempDir('schedule-cwd');
    const file = path.join(project, '.rehearsal', 'call-budgets.sqlite');
    await schedule(file, [REHEARSAL_APP]);

    const found = cli(project, home);
    assert.equal(found.code, 0, found.err);
    assert.match(found.out, new RegExp(`Call schedule ${file} \\(.*rehearsal.*\\), app ${REHEARSAL_APP} \\(the only`));
    assert.match(found.out, /UserRegister\s+20\/s\s+1/);

    const elsewhere = tempDir('schedule-elsewhere');
    const byDir = cli(elsewhere, home, '--dir', path.join(project, '.rehearsal'), '--json');
    assert.equal(byDir.code, 0, byDir.err);
    const rows = JSON.parse(byDir.out) as { action: string; calls: number }[];
    assert.deepEqual(
      rows.map((r) => [r.action, r.calls]),
      [
        ['ImportPeerMsg', 1],
        ['UserRegister', 1],
      ]
    );
  });

  it('prefers the machine default, asks for --app-id when the file holds several apps, and says where it looked', async () => {
    const home = tempDir('schedule-home');
    const cwd = tempDir('schedule-cwd');
    const none = cli(cwd, home);
    assert.equal(none.code, 2);
    assert.match(none.err, /No call schedule file: looked for .*\.zim-migrate\/call-budgets\.sqlite and .*\.rehearsal/);
    assert.match(none.err, /--budget-db/);

    const machine = path.join(home, '.zim-migrate', 'call-budgets.sqlite');
    await schedule(machine, [7, 8]);
    const several = cli(cwd, home);
    assert.equal(several.code, 2);
    assert.match(several.err, /holds the schedules of apps 7, 8: pass --app-id/);
    const chosen = cli(cwd, home, '--app-id', '8');
    assert.equal(chosen.code, 0, chosen.err);
    assert.match(chosen.out, new RegExp(`Call schedule ${machine} \\(the default\\), app 8 \\(--app-id\\)`));

    const other = cli(cwd, home, '--app-id', '9');
    assert.equal(other.code, 0, other.err);
    assert.match(other.out, /No call made for app 9 yet \(this file holds apps 7, 8\)/);
  });
});
