/**
 * The CLI as installed: run from a working directory outside the checkout (large files are parsed on worker
 * threads, which load the sources through tsx too), and through a symlink named `zim-migrate` as `npm link`
 * makes one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../src/shared/project-root';
import { NOW, tempDir, text, users } from '../helpers/exports';

const BIN = path.join(projectRoot(), 'bin', 'zim-migrate.js');
/** WORKER_THRESHOLD_BYTES in src/validate/validate-exports.ts: files this large are parsed on worker threads. */
const WORKER_THRESHOLD_BYTES = 8 * 1024 * 1024;

/** An export whose peer_messages file is just over the worker threshold: few, long messages keep it quick. */
function largeExport(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'users.ndjson'),
    users(20)
      .map((u) => JSON.stringify(u) + '\n')
      .join('')
  );
  const filler = 'x'.repeat(1800);
  const lines: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes <= WORKER_THRESHOLD_BYTES + 64 * 1024; i++) {
    const line =
      JSON.stringify(
        text(`m${i}`, `u${i % 20}`, `u${(i + 1) % 20}`, NOW - 3_600_000 + i, { body: { text: `${i} ${filler}` } })
      ) + '\n';
    lines.push(line);
    bytes += Buffer.byteLength(line);
  }
  writeFileSync(path.join(dir, 'peer_messages.ndjson'), lines.join(''));
}

describe('zim-migrate outside the checkout', () => {
  const root = tempDir('anywhere');
  const exportDir = path.join(root, 'export');
  largeExport(exportDir);
  const asOf = String(NOW);

  it('validates and plans an export with a file parsed on worker threads, from a directory outside the checkout', () => {
    assert.ok(statSync(path.join(exportDir, 'peer_messages.ndjson')).size > WORKER_THRESHOLD_BYTES);
    const cwd = tempDir('anywhere-cwd');
    assert.ok(!cwd.startsWith(projectRoot()));
    const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' });

    const validated = run('validate', exportDir, '--as-of', asOf, '--json');
    assert.equal(validated.status, 0, validated.stderr);
    const result = JSON.parse(validated.stdout) as { errors: number; entities: { peer_messages: { ok: number } } };
    assert.equal(result.errors, 0);
    assert.ok(result.entities.peer_messages.ok > 4000);

    const planned = run('plan', exportDir, '--out', path.join(cwd, 'acme.sqlite'), '--as-of', asOf);
    assert.equal(planned.status, 0, planned.stderr);
    assert.match(planned.stdout, /Staged in .*acme\.sqlite/);
  });

  it('runs through a symlink named zim-migrate on PATH, as npm link installs it', () => {
    const binDir = tempDir('anywhere-bin');
    symlinkSync(BIN, path.join(binDir, 'zim-migrate'));
    const cwd = tempDir('anywhere-cwd');
    const env = { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}` };
    const version = spawnSync('zim-migrate', ['--version'], { cwd, env, encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);

    const validated = spawnSync('zim-migrate', ['validate', exportDir, '--as-of', asOf, '--json'], {
      cwd,
      env,
      encoding: 'utf8',
    });
    assert.equal(validated.status, 0, validated.stderr);
    assert.equal((JSON.parse(validated.stdout) as { errors: number }).errors, 0);
  });
});
