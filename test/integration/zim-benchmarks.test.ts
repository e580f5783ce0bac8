/** Smoke runs of the benchmark scripts (tiny sizes), so they keep working; the figures come from full runs. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/shared/project-root';

const run = (script: string, nodeArgs: string[], args: string[]) =>
  promisify(execFile)(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join('src/benchmarks', script), ...args],
    {
      cwd: projectRoot(),
      timeout: 60_000,
    }
  );

describe('benchmark scripts', () => {
  it('bench:emulator drives a separate emulator process and reports requests/s with no errors', async () => {
    const { stdout } = await run(
      'emulator-capacity.ts',
      [],
      ['--duration-ms', '500', '--warmup-ms', '200', '--connections', '4']
    );
    assert.match(stdout, /requests\/s:\s+\d+/);
    assert.match(stdout, /errors:\s+0 non-zero Codes, 0 transport errors/);
    assert.match(stdout, /emulator CPU:\s+\d+ µs per call/);
  });

  it('bench:emulator-memory reports bytes per stored message', async () => {
    const { stdout } = await run(
      'emulator-memory.ts',
      ['--expose-gc'],
      ['--messages=20000', '--users=500', '--conversations=1000', '--groups=10']
    );
    assert.match(stdout, /stored messages:\s+20000 /);
    assert.match(stdout, /memory:\s+\d+ bytes per stored message/);
  });
});
