/**
 * What a source could not provide, or what the extraction left out or changed by a setting: counted per reason with
 * a few examples (source ids), so nothing is dropped silently. Units return partial reports; they add up.
 */
export interface ReportEntry {
  count: number;
  /** What happened and what to do, the same for every occurrence. */
  note: string;
  examples: string[];
}

export type SourceReport = Record<string, ReportEntry>;

const MAX_EXAMPLES = 5;

export class ReportBuilder {
  readonly entries: SourceReport = {};

  add(reason: string, note: string, example?: string, count = 1): void {
    const entry = (this.entries[reason] ??= { count: 0, note, examples: [] });
    entry.count += count;
    if (example !== undefined && entry.examples.length < MAX_EXAMPLES && !entry.examples.includes(example))
      entry.examples.push(example);
  }

  merge(other: SourceReport): void {
    for (const [reason, e] of Object.entries(other)) {
      const entry = (this.entries[reason] ??= { count: 0, note: e.note, examples: [] });
      entry.count += e.count;
      for (const x of e.examples)
        if (entry.examples.length < MAX_EXAMPLES && !entry.examples.includes(x)) entry.examples.push(x);
    }
  }
}

export function mergeReports(reports: Iterable<SourceReport>): SourceReport {
  const b = new ReportBuilder();
  for (const r of reports) b.merge(r);
  return b.entries;
}

export function renderReport(report: SourceReport): string {
  const lines = Object.entries(report)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([reason, e]) =>
        `  ${reason}: ${e.count}. ${e.note}${e.examples.length ? ` (e.g. ${e.examples.join(', ')})` : ''}`
    );
  return lines.length ? lines.join('\n') : '  nothing';
}
