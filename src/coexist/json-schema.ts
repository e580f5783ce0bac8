/**
 * The legacy contract as JSON Schema (draft 2020-12), generated from the zod schemas so the two cannot drift:
 * `npm run schema:coexist` writes docs/coexistence.schema.json, and a test checks it is current.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from '../shared/project-root';
import {
  LegacyCapabilitiesSchema,
  LegacyCreateGroupSchema,
  LegacyDismissSchema,
  LegacyGroupProfileSchema,
  LegacyGroupStateSchema,
  LegacyMembersChangeSchema,
  LegacyMessagePageSchema,
  LegacyRoutingEventSchema,
  LegacySendRequestSchema,
  LegacySendResponseSchema,
  LegacyUserConversationsSchema,
} from './legacy-contract';

export const COEXIST_SCHEMA_FILE = path.join(projectRoot(), 'docs', 'coexistence.schema.json');

const PARTS = {
  routingEvent: LegacyRoutingEventSchema,
  sendRequest: LegacySendRequestSchema,
  sendResponse: LegacySendResponseSchema,
  messagePage: LegacyMessagePageSchema,
  createGroup: LegacyCreateGroupSchema,
  membersChange: LegacyMembersChangeSchema,
  dismissGroup: LegacyDismissSchema,
  groupState: LegacyGroupStateSchema,
  groupProfile: LegacyGroupProfileSchema,
  userConversations: LegacyUserConversationsSchema,
  capabilities: LegacyCapabilitiesSchema,
} as const;

export function renderCoexistSchema(): string {
  const defs: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(PARTS)) {
    const { $schema: _drop, ...json } = z.toJSONSchema(schema, { io: 'input' });
    defs[name] = json;
  }
  const doc = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/zim-migrate/zim-migrate/docs/coexistence.schema.json',
    title: 'zim-migrate legacy coexistence contract',
    description:
      'What a legacy chat backend exchanges with zim-migrate during coexistence: $defs.routingEvent is the body it ' +
      'POSTs (signed) to the receiver; the other $defs are its write and read API. See docs/coexistence.md.',
    $defs: defs,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

if (require.main === module) {
  writeFileSync(COEXIST_SCHEMA_FILE, renderCoexistSchema());
  console.log(`wrote ${path.relative(process.cwd(), COEXIST_SCHEMA_FILE)}`);
}
