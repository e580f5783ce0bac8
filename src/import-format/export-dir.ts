/**
 * Finds the entity files of one export directory: `<entity>.ndjson`, `<entity>.ndjson.gz`, or split into
 * parts such as `peer_messages.001.ndjson.gz` (parts are read in name order).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST_FILE } from './manifest';
import { ENTITIES, type Entity } from './schemas';

export interface ExportFile {
  entity: Entity;
  path: string;
}

export interface ExportDir {
  /** The app's name: the directory's base name (apps must have distinct names). */
  app: string;
  dir: string;
  files: ExportFile[];
  /** `deletions.ndjson` (or its parts): tombstones of an incremental export (manifest.ts). */
  deletions: string[];
  /** `export.json`, when present: full or incremental, and the watermarks (manifest.ts). */
  manifest: string | null;
  /** Files that match no entity (reported as warnings, not read). */
  unknown: string[];
}

const FILE_NAME = /^([a-z_]+)(?:\.[A-Za-z0-9_-]+)?\.ndjson(?:\.gz)?$/;
/** What `zim-migrate extract` writes beside the entity files for people (docs/sources.md): not export data. */
export const COMPANION_FILES: readonly string[] = ['id-map.ndjson', 'extract-report.json'];

export class ExportDirError extends Error {}

export function scanExportDir(dir: string): ExportDir {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new ExportDirError(`${dir} is not a directory`);
    names = readdirSync(dir).sort();
  } catch (err) {
    if (err instanceof ExportDirError) throw err;
    throw new ExportDirError(`cannot read ${dir}: ${(err as Error).message}`);
  }
  const files: ExportFile[] = [];
  const unknown: string[] = [];
  const deletions: string[] = [];
  let manifest: string | null = null;
  for (const name of names) {
    const entity = FILE_NAME.exec(name)?.[1];
    const full = path.join(dir, name);
    if (entity !== undefined && (ENTITIES as readonly string[]).includes(entity)) {
      files.push({ entity: entity as Entity, path: full });
    } else if (entity === 'deletions') {
      deletions.push(full);
    } else if (name === MANIFEST_FILE) {
      manifest = full;
    } else if (!name.startsWith('.') && !COMPANION_FILES.includes(name)) {
      unknown.push(full);
    }
  }
  files.sort((a, b) => ENTITIES.indexOf(a.entity) - ENTITIES.indexOf(b.entity) || a.path.localeCompare(b.path));
  return { app: path.basename(path.resolve(dir)), dir, files, deletions, manifest, unknown };
}
