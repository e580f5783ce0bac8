/**
 * The import format as JSON Schema (draft 2020-12), generated from the zod schemas so the two cannot
 * drift: `npm run schema` writes docs/import-format.schema.json, and a test checks it is current.
 * Each line of `<entity>.ndjson` validates against `$defs.<entity>`. ZIM's plan-dependent limits
 * (byte sizes, retention) are checked by the validator, not expressible here.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from '../shared/project-root';
import { exportManifest } from './manifest';
import { deletionRecord, ENTITIES, ENTITY_SCHEMAS } from './schemas';

export const JSON_SCHEMA_FILE = path.join(projectRoot(), 'docs', 'import-format.schema.json');

export function importFormatJsonSchema(): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  for (const entity of ENTITIES) {
    const { $schema: _drop, ...schema } = z.toJSONSchema(ENTITY_SCHEMAS[entity]);
    defs[entity] = schema;
  }
  // Catch-up rounds' files: the manifest (export.json) and tombstones (deletions.ndjson).
  for (const [name, zod] of [
    ['manifest', exportManifest],
    ['deletions', deletionRecord],
  ] as const) {
    const { $schema: _drop, ...schema } = z.toJSONSchema(zod);
    defs[name] = schema;
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/zim-migrate/zim-migrate/docs/import-format.schema.json',
    title: 'zim-migrate import format',
    description:
      'A directory of NDJSON files (.ndjson or .ndjson.gz), one entity per file: each line of <entity>.ndjson is one ' +
      'object valid against $defs.<entity>; an optional export.json is $defs.manifest and deletions.ndjson lines are ' +
      '$defs.deletions (incremental exports). See docs/import-format.md for the rules the validator adds.',
    $defs: defs,
  };
}

export function renderJsonSchema(): string {
  return JSON.stringify(importFormatJsonSchema(), null, 2) + '\n';
}

if (require.main === module) {
  writeFileSync(JSON_SCHEMA_FILE, renderJsonSchema());
  console.log(`wrote ${path.relative(process.cwd(), JSON_SCHEMA_FILE)}`);
}
