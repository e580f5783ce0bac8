/**
 * Ids that ZIM cannot take, mapped to ids it can: deterministic (the same source id always maps to the same ZIM id,
 * so every unit of an extraction, and every later extraction given the earlier map, agrees) and collision-checked
 * (a mapped id never equals another mapped id nor a source id that is kept as it is). Ids that fit stay as they are.
 *
 * A mapped id is `~` + the kind's letter + 24 characters of base32 of SHA-256(source id): 26 bytes, within
 * ZIM's 32, 120 bits of hash (collisions come from a source id that happens to look mapped, which is checked).
 */
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { z } from 'zod';
import { ZIM_ID_MAX_BYTES, ZIM_ID_PATTERN } from '../import-format/zim-limits';

export type IdKind = 'user' | 'group';
const KIND_LETTER: Record<IdKind, string> = { user: 'u', group: 'g' };
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export const idMapEntry = z.strictObject({
  kind: z.enum(['user', 'group']),
  source: z.string().min(1),
  zim: z.string().min(1).max(ZIM_ID_MAX_BYTES).regex(ZIM_ID_PATTERN),
});
export type IdMapEntry = z.infer<typeof idMapEntry>;

/** Whether ZIM takes the id as it is (a group id may not start with '#'). */
export function fitsZim(id: string, kind: IdKind): boolean {
  return (
    id.length > 0 &&
    Buffer.byteLength(id, 'utf8') <= ZIM_ID_MAX_BYTES &&
    ZIM_ID_PATTERN.test(id) &&
    !(kind === 'group' && id.startsWith('#'))
  );
}

function hashed(id: string, kind: IdKind, salt: number): string {
  const digest = createHash('sha256')
    .update(salt === 0 ? id : `${id}\u0000${salt}`)
    .digest();
  let out = '';
  for (let i = 0; i < 24; i++) out += BASE32[digest[i]! & 31];
  return `~${KIND_LETTER[kind]}${out}`;
}

export class IdMapError extends Error {
  override name = 'IdMapError';
}

/**
 * The map of one extraction. `keep(id)` declares an id that fits (so no mapped id may take it); `zimId(id)`
 * answers the id to use, mapping it on first sight. Call `keep` for every fitting id before mapping (the
 * extraction does so from the users and channels lists) so that a later salt is never needed after the fact.
 */
export class IdMap {
  private readonly mapped = new Map<string, string>(); // `${kind}\0${source}` → zim
  private readonly taken = new Map<string, string>(); // `${kind}\0${zim}` → source
  /** Entries created in this extraction (not loaded from an earlier map). */
  readonly added: IdMapEntry[] = [];

  static fromEntries(entries: Iterable<IdMapEntry>): IdMap {
    const map = new IdMap();
    for (const e of entries) map.load(e);
    return map;
  }

  /** Reads an earlier extraction's id-map.ndjson; a line that is not an entry is an error naming the line. */
  static readFile(file: string): IdMap {
    if (!existsSync(file))
      throw new IdMapError(`the id map ${file} does not exist: pass the id-map.ndjson an earlier extraction wrote`);
    const map = new IdMap();
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (!line.trim()) return;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          throw new IdMapError(
            `${file}:${i + 1} is not JSON: an id map has one {"kind","source","zim"} object per line`
          );
        }
        const parsed = idMapEntry.safeParse(value);
        if (!parsed.success)
          throw new IdMapError(
            `${file}:${i + 1} is not an id map entry (${parsed.error.issues[0]?.message ?? 'invalid'})`
          );
        map.load(parsed.data);
      });
    return map;
  }

  private load(e: IdMapEntry): void {
    const owner = this.taken.get(`${e.kind}\0${e.zim}`);
    if (owner !== undefined && owner !== e.source)
      throw new IdMapError(`the id map gives ${e.kind} ids "${owner}" and "${e.source}" the same ZIM id ${e.zim}`);
    this.mapped.set(`${e.kind}\0${e.source}`, e.zim);
    this.taken.set(`${e.kind}\0${e.zim}`, e.source);
  }

  get size(): number {
    return this.mapped.size;
  }

  /** Sorted by kind and source id, so two extractions of the same ids write the same file. */
  entries(): IdMapEntry[] {
    return [...this.mapped]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, zim]) => {
        const [kind, source] = key.split('\0') as [IdKind, string];
        return { kind, source, zim };
      });
  }

  /** Declares a source id that fits ZIM and stays as it is; a mapped id that took it first is an error. */
  keep(id: string, kind: IdKind): void {
    const owner = this.taken.get(`${kind}\0${id}`);
    if (owner !== undefined && owner !== id)
      throw new IdMapError(
        `the ${kind} id "${id}" fits ZIM but an earlier id map gave it to "${owner}": rename one of them in the source or edit the map`
      );
    this.taken.set(`${kind}\0${id}`, id);
  }

  zimId(id: string, kind: IdKind): string {
    const known = this.mapped.get(`${kind}\0${id}`);
    if (known !== undefined) return known;
    if (fitsZim(id, kind)) {
      this.keep(id, kind);
      return id;
    }
    for (let salt = 0; ; salt++) {
      const candidate = hashed(id, kind, salt);
      if (this.taken.has(`${kind}\0${candidate}`)) continue;
      const entry = { kind, source: id, zim: candidate };
      this.load(entry);
      this.added.push(entry);
      return candidate;
    }
  }
}
