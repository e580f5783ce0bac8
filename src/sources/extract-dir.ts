/**
 * The output directory of an extraction: the export files `validate` and `plan` read, the id map and report for
 * people, and `.extract/` (hidden, so validate skips it) with what the extraction keeps for itself: raw listings,
 * files being written, and one small JSON file per finished unit. A unit's outputs are renamed into place before
 * its done file is written, so a unit that finished is never fetched again (its done file says so), and one that
 * died midway is redone from its last checkpoint or the start and overwrites its own files (no duplicates).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const ID_MAP_FILE = 'id-map.ndjson';
export const REPORT_FILE = 'extract-report.json';

export class ExtractDir {
  /** Creates the working folders if missing: any unit may be the first to run in a fresh directory. */
  constructor(readonly root: string) {
    this.prepare();
  }

  get work(): string {
    return path.join(this.root, '.extract');
  }
  raw(name: string): string {
    return path.join(this.work, 'raw', name);
  }
  tmp(name: string): string {
    return path.join(this.work, 'tmp', name);
  }
  out(name: string): string {
    return path.join(this.root, name);
  }
  private doneFile(unit: string): string {
    return path.join(this.work, 'units', `${unit}.json`);
  }

  prepare(): void {
    for (const d of ['raw', 'tmp', 'units']) mkdirSync(path.join(this.work, d), { recursive: true });
  }

  /** The summary a finished unit left, or undefined when it has not finished. */
  done<T>(unit: string): T | undefined {
    const file = this.doneFile(unit);
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
  }

  markDone(unit: string, summary: unknown): void {
    writeAtomic(this.doneFile(unit), JSON.stringify(summary));
  }
}

export function writeAtomic(file: string, content: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

export function readNdjson<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as T);
}
