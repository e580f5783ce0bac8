/** The last line of the validation summary says what became of the export: checked, not staged, or staged. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ZIM_PLAN_LIMITS } from '../../src/import-format/zim-limits';
import { renderValidation } from '../../src/validate/render-validation';
import { NOW, tempDir, text, users, validate, writeExport } from '../helpers/exports';

const lastLine = (s: string) => s.split('\n').at(-1);

describe('renderValidation', () => {
  it('says which records were left out when plan stages the rest, and which errors no record carries', async () => {
    // 101 users on the free plan (100): an error for the export as a whole; one message to an unknown user.
    const dir = writeExport(path.join(tempDir('render'), 'app'), {
      'users.ndjson': users(101),
      'peer_messages.ndjson': [text('m1', 'u0', 'u1', NOW - 60_000), text('m2', 'u0', 'nobody', NOW - 60_000)],
    });
    const { result } = await validate([dir], { limits: ZIM_PLAN_LIMITS.free });
    assert.equal(result.errors, 2);

    assert.equal(lastLine(renderValidation(result, 'r.ndjson')), '2 errors, 0 warnings: fix the errors and run again.');
    assert.match(lastLine(renderValidation(result, 'r.ndjson', 'not-staged'))!, /nothing staged; .* --exclude-errors/);
    assert.equal(
      lastLine(renderValidation(result, 'r.ndjson', 'staged')),
      '2 errors, 0 warnings: 1 record with errors was left out (listed in r.ndjson); staged the rest. 1 error ' +
        'concerns a whole file or the export, not a record: nothing was left out for it (read it above).'
    );
  });
});
