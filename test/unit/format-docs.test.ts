import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { JSON_SCHEMA_FILE, renderJsonSchema } from '../../src/import-format/json-schema';
import { RULES } from '../../src/import-format/rules';
import { ENTITIES } from '../../src/import-format/schemas';
import { projectRoot } from '../../src/shared/project-root';

describe('the format documentation', () => {
  it('lists every validation rule with its severity', () => {
    const doc = readFileSync(path.join(projectRoot(), 'docs', 'import-format.md'), 'utf8');
    for (const [id, rule] of Object.entries(RULES))
      assert.match(doc, new RegExp(`\\| \`${id.replace('.', '\\.')}\` \\| ${rule.severity} \\|`), id);
  });

  it('ships the JSON Schema that the zod schemas generate (run npm run schema after changing them)', () => {
    assert.equal(readFileSync(JSON_SCHEMA_FILE, 'utf8'), renderJsonSchema());
    const schema = JSON.parse(renderJsonSchema()) as { $defs: Record<string, unknown> };
    assert.deepEqual(Object.keys(schema.$defs), [...ENTITIES, 'manifest', 'deletions']);
  });
});
