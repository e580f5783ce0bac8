import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseExportDirs, parseImportOptions, parseRates } from '../../src/cli/import-options';
import { tempDir, users, writeExport } from '../helpers/exports';
import { UsageError } from '../../src/shared/usage-error';

const base = { zimPlan: 'pro', rejects: 'r.ndjson', json: false };

describe('CLI settings', () => {
  it('starts from the ZIM plan preset and applies the overrides', () => {
    const s = parseImportOptions({
      ...base,
      zimPlan: 'free',
      retentionDays: '180',
      messageBytes: '32768',
      asOf: '2026-01-01T00:00:00+08:00',
    });
    assert.equal(s.limits.plan, 'free');
    assert.equal(s.limits.retentionDays, 180);
    assert.equal(s.limits.maxGroupMembers, 20);
    assert.equal(s.limits.messageBytes, 32768);
    assert.equal(s.asOfMs, Date.parse('2025-12-31T16:00:00Z'));
    assert.equal(parseImportOptions({ ...base, asOf: '1767225600000' }).asOfMs, 1767225600000);
  });

  it('parses merge precedence and prefixes', () => {
    const s = parseImportOptions({
      ...base,
      prefer: 'b, a',
      groupIdPrefix: ['b=b_'],
      messageIdPrefix: ['a=x-', 'b=y-'],
    });
    assert.deepEqual(s.merge, {
      prefer: ['b', 'a'],
      groupIdPrefix: { b: 'b_' },
      messageIdPrefix: { a: 'x-', b: 'y-' },
    });
  });

  it('turns bad values into usage errors that say what is wrong', () => {
    assert.throws(
      () => parseImportOptions({ ...base, retentionDays: 'many' }),
      (e: Error) => e instanceof UsageError && /--retention-days must be a number/.test(e.message)
    );
    assert.throws(() => parseImportOptions({ ...base, messageBytes: '40000' }), /at most 32768/);
    assert.throws(() => parseImportOptions({ ...base, asOf: 'yesterday' }), UsageError);
    assert.throws(() => parseImportOptions({ ...base, groupIdPrefix: ['nope'] }), /expected NAME=VALUE/);
  });

  it('overrides per-Action rates and rejects unknown Actions', () => {
    const rates = parseRates(['ImportPeerMsg=50', 'InviteUsersIntoGroup=2']);
    assert.equal(rates.ImportPeerMsg, 50);
    assert.equal(rates.InviteUsersIntoGroup, 2);
    assert.equal(rates.UserRegister, 20);
    assert.throws(() => parseRates(['ImportPeerMessage=5']), /not an Action/);
    assert.throws(() => parseRates(['ImportPeerMsg=0']), /positive/);
  });

  it('takes a full export with export.json, and names an incremental or malformed one (it needs its migration)', () => {
    const dir = writeExport(path.join(tempDir('manifest'), 'app'), { 'users.ndjson': users(2) });
    writeFileSync(path.join(dir, 'export.json'), '{"kind":"full","until":"2026-01-01T00:00:00Z"}');
    assert.deepEqual(parseExportDirs([dir]), [dir]);
    writeFileSync(path.join(dir, 'export.json'), '{"kind":"incremental","since":1,"until":2}');
    assert.throws(() => parseExportDirs([dir]), /is an incremental export .* input of a catch-up round/);
    writeFileSync(path.join(dir, 'export.json'), '{"kind":"delta"}');
    assert.throws(() => parseExportDirs([dir]), /export\.json: kind: .*Expected \{"kind":"full"/);
  });
});
