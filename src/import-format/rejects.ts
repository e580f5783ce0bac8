/**
 * Reject records: every problem the validator finds, with where it is (file, line, record id), the rule,
 * what is wrong and the fix. They stream to an NDJSON file as they are found (memory stays flat however
 * many there are) and are counted per rule for the summary on screen.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { RULES, type RuleId, type Severity } from './rules';

export interface Reject {
  severity: Severity;
  rule: RuleId;
  app: string;
  /** The export file, or the directory for a problem with the export as a whole. */
  file: string;
  /** 1-based line, null when the problem concerns the whole file. */
  line: number | null;
  recordId: string | null;
  message: string;
  fix: string;
}

export type RejectInput = Omit<Reject, 'severity' | 'fix'>;

export interface RuleCount {
  rule: RuleId;
  severity: Severity;
  count: number;
  /** The first few, for the summary. */
  examples: Reject[];
}

const EXAMPLES_PER_RULE = 3;
const FLUSH_BYTES = 256 * 1024;

export class RejectLog {
  private readonly counts = new Map<RuleId, RuleCount>();
  private fd: number | null;
  private buffer = '';

  /** `file` null: count only (nothing written). */
  constructor(file: string | null) {
    this.fd = file === null ? null : openSync(file, 'w');
  }

  add(input: RejectInput): Reject {
    const rule = RULES[input.rule];
    const reject: Reject = { severity: rule.severity, ...input, fix: rule.fix };
    let count = this.counts.get(input.rule);
    if (!count) {
      count = { rule: input.rule, severity: rule.severity, count: 0, examples: [] };
      this.counts.set(input.rule, count);
    }
    count.count++;
    if (count.examples.length < EXAMPLES_PER_RULE) count.examples.push(reject);
    if (this.fd !== null) {
      this.buffer += JSON.stringify(reject) + '\n';
      if (this.buffer.length > FLUSH_BYTES) this.flush();
    }
    return reject;
  }

  get errors(): number {
    return this.total('error');
  }

  get warnings(): number {
    return this.total('warning');
  }

  /** Errors first, then by count. */
  summary(): RuleCount[] {
    return [...this.counts.values()].sort(
      (a, b) => Number(a.severity === 'warning') - Number(b.severity === 'warning') || b.count - a.count
    );
  }

  close(): void {
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private total(severity: Severity): number {
    let n = 0;
    for (const c of this.counts.values()) if (c.severity === severity) n += c.count;
    return n;
  }

  private flush(): void {
    if (this.fd !== null && this.buffer) writeSync(this.fd, this.buffer);
    this.buffer = '';
  }
}
