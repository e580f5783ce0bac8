/**
 * Builds the export files of one corpus case: valid lines are counted per entity, bad ones are planted with the
 * rule the validator must report at their file and line.
 */
import type { RuleId } from '../../import-format/rules';
import type { Entity } from '../../import-format/schemas';
import type { ZimLimits } from '../../import-format/zim-limits';

/** A record (written as JSON), a line written as is, or raw bytes. */
export type Line = object | string | Buffer;

export interface Planted {
  /** `app/file`, or `app` for a problem with the export directory as a whole. */
  where: string;
  line: number | null;
  rule: RuleId;
}

/** One export file under construction: valid lines are counted, bad ones planted with their line. */
export class FileBuilder {
  readonly lines: Buffer[] = [];
  constructor(
    private readonly c: CaseBuilder,
    readonly where: string,
    readonly entity: Entity | undefined
  ) {}
  ok(...records: Line[]): this {
    for (const r of records) this.lines.push(toBytes(r));
    if (this.entity) this.c.valid[this.entity] = (this.c.valid[this.entity] ?? 0) + records.length;
    return this;
  }
  bad(rule: RuleId, record: Line): this {
    this.lines.push(toBytes(record));
    this.c.planted.push({ where: this.where, line: this.lines.length, rule });
    return this;
  }
}

const toBytes = (l: Line) =>
  Buffer.isBuffer(l) ? l : Buffer.from(typeof l === 'string' ? l : JSON.stringify(l), 'utf8');

export class CaseBuilder {
  readonly files: FileBuilder[] = [];
  readonly raw: { where: string; bytes: Buffer }[] = [];
  readonly planted: Planted[] = [];
  readonly valid: Partial<Record<Entity, number>> = {};
  readonly apps: string[] = [];
  file(app: string, name: string): FileBuilder {
    if (!this.apps.includes(app)) this.apps.push(app);
    const f = new FileBuilder(this, `${app}/${name}`, name.split('.')[0] as Entity);
    this.files.push(f);
    return f;
  }
  /** A whole file written as given, with the problems it must raise. */
  rawFile(app: string, name: string, bytes: Buffer, ...rules: [RuleId, number | null][]): void {
    if (!this.apps.includes(app)) this.apps.push(app);
    this.raw.push({ where: `${app}/${name}`, bytes });
    for (const [rule, line] of rules) this.planted.push({ where: `${app}/${name}`, line, rule });
  }
  /** A problem with an app's directory as a whole. */
  expect(app: string, rule: RuleId): void {
    if (!this.apps.includes(app)) this.apps.push(app);
    this.planted.push({ where: app, line: null, rule });
  }
  /** A problem with the export as a whole (a plan cap): its records stay staged. */
  expectExportWide(rule: RuleId): void {
    this.planted.push({ where: '*', line: null, rule });
  }
}

export interface CorpusCase {
  name: string;
  limits: ZimLimits;
  build(b: CaseBuilder): void;
}
