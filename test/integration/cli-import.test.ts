/** The gen, validate and plan commands as an operator runs them: output, files and exit codes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { buildProgram } from '../../src/cli/main';
import { generateExport } from '../../src/synthetic/generate';
import { projectRoot } from '../../src/shared/project-root';
import { DAY, NOW, tempDir } from '../helpers/exports';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'zim-migrate.js'), ...args], {
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('zim-migrate gen, validate, plan', () => {
  const root = tempDir('cli');
  const good = path.join(root, 'good');
  const bad = path.join(root, 'bad');
  const asOf = String(NOW);

  it('generates exports, validates the clean one (exit 0) and the broken one (exit 1, rejects on file)', async () => {
    const end = String(NOW - DAY);
    await generateExport({ out: good, users: 60, seed: 1, peerMessages: 400, endMs: NOW - DAY });
    const gen = cli('gen', '--out', bad, '--users', '60', '--messages', '400', '--bad', '4', '--end', end, '--json');
    assert.equal(gen.code, 0, gen.err);
    assert.deepEqual((JSON.parse(gen.out) as { injected: object }).injected, {
      'line.invalid-json': 1,
      'line.forbidden-key': 1,
      'ref.unknown-user': 1,
      'id.invalid': 1,
    });

    const ok = cli('validate', good, '--as-of', asOf, '--rejects', path.join(root, 'good-rejects.ndjson'));
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /No errors/);

    const rejects = path.join(root, 'bad-rejects.ndjson');
    const broken = cli('validate', bad, '--as-of', asOf, '--rejects', rejects, '--json');
    assert.equal(broken.code, 1);
    assert.equal((JSON.parse(broken.out) as { errors: number }).errors, 4);
    const lines = readFileSync(rejects, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { severity: string; file: string; line: number; fix: string })
      .filter((r) => r.severity === 'error');
    assert.equal(lines.length, 4);
    for (const r of lines) assert.ok(r.file.endsWith('peer_messages.ndjson') && r.line > 0 && r.fix.length > 0);
  });

  it('plans into a staging file, prints the plan as JSON, and will not replace it without --force (exit 2)', () => {
    const out = path.join(root, 'staging.db');
    const planned = cli(
      'plan',
      good,
      '--out',
      out,
      '--as-of',
      asOf,
      '--rate',
      'ImportPeerMsg=40',
      '--step-ms',
      '40',
      '--json',
      '--rejects',
      path.join(root, 'p.ndjson')
    );
    assert.equal(planned.code, 0, planned.err);
    const result = JSON.parse(planned.out) as {
      plan: { etaSeconds: number; stepMs: number; actions: { action: string; rate: number; chainSteps?: number }[] };
      stagingFile: string;
    };
    assert.equal(result.stagingFile, out);
    assert.ok(existsSync(out) && !existsSync(`${out}.building`));
    assert.equal(result.plan.actions.find((a) => a.action === 'ImportPeerMsg')?.rate, 40);
    assert.ok(result.plan.etaSeconds > 0);
    // The chains timed at --step-ms: an owner's copy over its lanes, at least its longest conversation and at most
    // its whole copy; a group's whole history.
    assert.equal(result.plan.stepMs, 40);
    const chainOf = (action: string) => result.plan.actions.find((a) => a.action === action)?.chainSteps ?? 0;
    const db = new Database(out, { readonly: true });
    const n = (sql: string) => db.prepare(sql).pluck().get() as number;
    try {
      const conversation = n('SELECT max(c) FROM (SELECT count(*) AS c FROM peer_copies GROUP BY owner, peer)');
      assert.ok(conversation > 0);
      assert.ok(chainOf('ImportPeerMsg') >= conversation && chainOf('ImportPeerMsg') <= n('SELECT max(n) FROM owners'));
      assert.equal(chainOf('ImportGroupMsg'), n('SELECT max(message_count) FROM groups'));
    } finally {
      db.close();
    }

    const again = cli('plan', good, '--out', out, '--as-of', asOf);
    assert.equal(again.code, 2);
    assert.match(again.err, /exists .* pass --force/);
  });

  it('plan with errors: says nothing was staged, or with --exclude-errors which records were left out', () => {
    const stopped = cli('plan', bad, '--out', path.join(root, 'bad.db'), '--as-of', asOf);
    assert.equal(stopped.code, 1);
    assert.match(stopped.out, /4 errors, .*: nothing staged; fix the errors and run again, or pass --exclude-errors/);
    assert.ok(!existsSync(path.join(root, 'bad.db')));

    const rejects = path.join(root, 'excluded.ndjson');
    const staged = cli(
      'plan',
      bad,
      '--out',
      path.join(root, 'excluded.db'),
      '--as-of',
      asOf,
      '--exclude-errors',
      '--rejects',
      rejects
    );
    assert.equal(staged.code, 0, staged.err);
    assert.doesNotMatch(staged.out, /fix the errors and run again/);
    assert.match(
      staged.out,
      new RegExp(`4 errors, .*: 4 records with errors were left out \\(listed in ${rejects}\\); staged the rest\\.`)
    );
    assert.match(staged.out, /Staged in .*excluded\.db/);
  });

  it('exits 2 on bad usage', () => {
    const r = cli('validate', good, '--zim-plan', 'gold');
    assert.equal(r.code, 2);
    assert.match(r.err, /Allowed choices are free, pro, enterprise/);
  });

  it('names a missing, wrong or empty export directory (exit 2), nothing validated', () => {
    const missing = path.join(root, 'no-such-dir');
    for (const command of ['validate', 'plan']) {
      const r = cli(command, missing, ...(command === 'plan' ? ['--out', path.join(root, 'never.db')] : []));
      assert.equal(r.code, 2, command);
      assert.match(r.err, new RegExp(`No such directory: ${missing}`), command);
      assert.doesNotMatch(r.out, /Validated/, command);
    }
    const file = path.join(root, 'not-a-dir.ndjson');
    writeFileSync(file, '{}\n');
    const notDir = cli('validate', file);
    assert.equal(notDir.code, 2);
    assert.match(
      notDir.err,
      /not-a-dir\.ndjson is not a directory: expected an export directory .*users.*import-format\.md/
    );
    const empty = path.join(root, 'empty');
    mkdirSync(empty);
    writeFileSync(path.join(empty, 'notes.txt'), 'not an export\n');
    const none = cli('validate', empty);
    assert.equal(none.code, 2);
    assert.match(none.err, /empty holds no export files: expected .*users, friends, blocks/);
  });

  it("names an unknown option before a missing required one, with commander's suggestion (exit 2)", () => {
    const typo = cli('plan', good, '--outt', path.join(root, 'typo.db'));
    assert.equal(typo.code, 2);
    assert.match(typo.err, /unknown option '--outt'\n\(Did you mean --out\?\)/);
    assert.doesNotMatch(typo.err, /required option/);
    const gen = cli('gen', '--userz', '5');
    assert.equal(gen.code, 2);
    assert.match(gen.err, /unknown option '--userz'/);
    const missing = cli('plan', good);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /required option '--out <file\|url>' not specified/);
  });

  it('teaches by example in --help', () => {
    for (const name of ['validate', 'plan', 'gen']) {
      const command = buildProgram().commands.find((c) => c.name() === name)!;
      let help = '';
      command.configureOutput({ writeOut: (text) => (help += text) });
      command.outputHelp();
      assert.match(help, /Examples:\n\s+\$ zim-migrate /, name);
      assert.match(help, /Exit codes: 0/, name);
    }
  });
});
