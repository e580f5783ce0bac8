/**
 * A `zim-migrate` process loads only the module of the command it runs (src/cli/main.ts): `gen` starts without the
 * Temporal worker's modules, while the program's own --help still lists every command.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { projectRoot } from '../../src/shared/project-root';

/** Runs the CLI in a child process; answers its stdout and whether it had loaded `moduleName` when it exited. */
function run(args: string[], moduleName: string): { stdout: string; loaded: boolean } {
  const script = `
    require('tsx/cjs');
    process.on('exit', () => {
      const loaded = Object.keys(require.cache).some((file) => file.includes(${JSON.stringify(moduleName)}));
      process.stderr.write('loaded=' + loaded);
    });
    require('./src/cli/main.ts').runCli(['node', 'zim-migrate', ...${JSON.stringify(args)}]);`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: projectRoot(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout, loaded: /loaded=true/.test(r.stderr) };
}

describe('zim-migrate loads commands on demand', () => {
  it("runs one command without the others' modules", () => {
    for (const args of [
      ['gen', '--help'],
      ['--config', 'none.json', 'gen', '--help'],
    ]) {
      const r = run(args, '@temporalio/worker');
      assert.match(r.stdout, /Usage: zim-migrate gen/);
      assert.equal(r.loaded, false, `${args.join(' ')} loaded @temporalio/worker`);
    }
  });

  it('lists every command in the help of the program', () => {
    for (const args of [['--help'], ['--help', 'gen']]) {
      const r = run(args, '@temporalio/worker');
      for (const command of ['dev', 'gen', 'start', 'status', 'worker', 'receiver', 'extract', 'temporal-cli'])
        assert.match(r.stdout, new RegExp(`^  ${command} `, 'm'), `${args.join(' ')}: ${command}`);
    }
  });
});
