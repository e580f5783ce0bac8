/**
 * Streams an NDJSON file (plain or gzip) line by line in flat memory and turns every kind of bad input
 * into a reject with its line number instead of a crash: invalid UTF-8, a BOM, CRLF, lines over 1 MiB,
 * malformed JSON, non-object lines, prototype-polluting keys, a truncated or corrupt gzip stream.
 * Lines are split on raw bytes, so an over-long line is skipped without ever being held whole.
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { RuleId } from './rules';

export const MAX_LINE_BYTES = 1024 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];
/** A cheap screen over the line's text; the parsed value is searched only when it matches. */
const MAYBE_FORBIDDEN = /"(?:__proto__|constructor|prototype)"/;

export interface NdjsonSink {
  /** A line that parsed to a JSON object (not yet checked against any schema). */
  record(line: number, value: Record<string, unknown>): void;
  /** A bad line (line number) or a problem with the whole file (line null, or the line it stopped at). */
  reject(line: number | null, rule: RuleId, message: string): void;
  /** Called after each chunk (about 1 MiB); reading waits for a returned promise (backpressure). */
  afterChunk?: () => Promise<void> | undefined;
}

export interface ReadSummary {
  lines: number;
  /** Lines that are not blank: records plus rejected lines. */
  contentLines: number;
  records: number;
}

/** A byte range of an uncompressed file that starts at a line start (see splitAtLines). */
export interface LineRange {
  start: number;
  /** Exclusive. */
  end: number;
  /** The line number of the line at `start`. */
  firstLine: number;
}

export async function readNdjsonFile(file: string, sink: NdjsonSink, range?: LineRange): Promise<ReadSummary> {
  const splitter = new LineSplitter(sink, range?.firstLine ?? 1);
  const gzip = file.endsWith('.gz');
  if (gzip && range) throw new Error('a gzip file cannot be read by byte range');
  const input = createReadStream(file, {
    highWaterMark: 1024 * 1024,
    start: range?.start,
    end: range && range.end - 1,
  });
  const stream = gzip ? input.pipe(createGunzip()) : input;
  if (gzip) input.on('error', (err) => stream.destroy(err));
  try {
    for await (const chunk of stream) {
      splitter.push(chunk as Buffer);
      const wait = sink.afterChunk?.();
      if (wait) await wait;
    }
    splitter.end();
  } catch (err) {
    if (err instanceof StopReading) return splitter.summary();
    const code = (err as NodeJS.ErrnoException).code;
    if (gzip && code !== undefined && code.startsWith('Z_')) {
      const lost = splitter.hasPartialLine() ? `; the incomplete line ${splitter.lines + 1} was not read` : '';
      sink.reject(
        splitter.lines + 1,
        'file.gzip-corrupt',
        `gzip stream broken after line ${splitter.lines} (${(err as Error).message})${lost}`
      );
    } else {
      sink.reject(null, 'file.unreadable', (err as Error).message);
    }
  }
  return splitter.summary();
}

class LineSplitter {
  lines = 0;
  records = 0;
  private contentLines = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skippingLongLine = false;
  private sawCrlf = false;
  private atFileStart: boolean;
  private readonly firstLine: number;

  constructor(
    private readonly sink: NdjsonSink,
    firstLine: number
  ) {
    this.firstLine = firstLine;
    this.lines = firstLine - 1;
    this.atFileStart = firstLine === 1;
  }

  summary(): ReadSummary {
    return { lines: this.lines - this.firstLine + 1, contentLines: this.contentLines, records: this.records };
  }

  hasPartialLine(): boolean {
    return this.pendingBytes > 0 || this.skippingLongLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    if (this.atFileStart && chunk.length > 0) {
      this.atFileStart = false;
      if (chunk[0] === 0x1f && chunk[1] === 0x8b) {
        this.sink.reject(
          null,
          'file.unreadable',
          'the file is gzip-compressed but not named .gz; rename it to *.ndjson.gz'
        );
        throw new StopReading();
      }
    }
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        this.keep(chunk.subarray(start));
        return;
      }
      if (this.pendingBytes === 0 && !this.skippingLongLine) {
        this.finishLine(chunk.subarray(start, nl));
      } else {
        this.keep(chunk.subarray(start, nl));
        this.finishLine(this.takePending());
      }
      start = nl + 1;
    }
  }

  end(): void {
    if (this.hasPartialLine()) this.finishLine(this.takePending());
  }

  private keep(piece: Buffer): void {
    if (piece.length === 0 || this.skippingLongLine) return;
    if (this.pendingBytes + piece.length > MAX_LINE_BYTES + 1) {
      // +1 leaves room for a CR before the LF. Drop what we hold and skip to the next line break.
      this.skippingLongLine = true;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(Buffer.from(piece));
    this.pendingBytes += piece.length;
  }

  private takePending(): Buffer {
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return buf;
  }

  private finishLine(raw: Buffer): void {
    const line = ++this.lines;
    if (this.skippingLongLine) {
      this.contentLines++;
      this.skippingLongLine = false;
      this.sink.reject(line, 'line.too-long', `line ${line} is longer than ${MAX_LINE_BYTES} bytes`);
      return;
    }
    let buf = raw;
    if (line === 1 && buf.subarray(0, 3).equals(BOM)) {
      buf = buf.subarray(3);
      this.sink.reject(1, 'file.bom', 'UTF-8 byte-order mark at the start of the file ignored');
    }
    if (buf.length > 0 && buf[buf.length - 1] === CR) {
      buf = buf.subarray(0, buf.length - 1);
      if (!this.sawCrlf) {
        this.sawCrlf = true;
        this.sink.reject(line, 'file.crlf', `CRLF line endings (first at line ${line}) read as LF`);
      }
    }
    if (isBlank(buf)) return;
    this.contentLines++;
    if (buf.length > MAX_LINE_BYTES) {
      this.sink.reject(line, 'line.too-long', `line ${line} is ${buf.length} bytes, over ${MAX_LINE_BYTES}`);
      return;
    }
    if (!isUtf8(buf)) {
      this.sink.reject(line, 'line.invalid-utf8', `line ${line} is not valid UTF-8`);
      return;
    }
    const text = buf.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.sink.reject(line, 'line.invalid-json', (err as Error).message);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.sink.reject(
        line,
        'line.not-object',
        `line ${line} is a JSON ${Array.isArray(value) ? 'array' : typeof value}`
      );
      return;
    }
    if (MAYBE_FORBIDDEN.test(text)) {
      const key = findForbiddenKey(value);
      if (key !== null) {
        this.sink.reject(line, 'line.forbidden-key', `the record has a "${key}" key`);
        return;
      }
    }
    this.records++;
    this.sink.record(line, value as Record<string, unknown>);
  }
}

/** Thrown by the splitter to stop reading a file it has already rejected as a whole. */
export class StopReading extends Error {}

function isBlank(buf: Buffer): boolean {
  for (const b of buf) if (b !== 0x20 && b !== 0x09 && b !== CR) return false;
  return true;
}

function findForbiddenKey(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.includes(key)) return key;
    const found = findForbiddenKey((value as Record<string, unknown>)[key]);
    if (found !== null) return found;
  }
  return null;
}

/**
 * Cuts an uncompressed file into `parts` byte ranges that start at line starts, with the line number each
 * starts at, so that several threads can parse one large file and still report exact line numbers.
 */
export async function splitAtLines(file: string, parts: number): Promise<LineRange[]> {
  const size = (await stat(file)).size;
  const cuts = [0];
  for (let i = 1; i < parts; i++) cuts.push(Math.floor((size * i) / parts));
  const ranges: LineRange[] = [];
  const handle = await open(file, 'r');
  try {
    // Move each cut just past the next line break, counting line breaks on the way.
    let line = 1;
    let pos = 0;
    const buf = Buffer.alloc(1024 * 1024);
    const starts: { start: number; firstLine: number }[] = [{ start: 0, firstLine: 1 }];
    for (const cut of cuts.slice(1)) {
      let start = -1;
      while (start < 0 && pos < size) {
        const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        let i = chunk.indexOf(LF);
        while (i !== -1) {
          line++;
          if (pos + i >= cut) {
            start = pos + i + 1;
            break;
          }
          i = chunk.indexOf(LF, i + 1);
        }
        pos = start >= 0 ? start : pos + bytesRead;
      }
      if (start < 0 || start >= size) break;
      starts.push({ start, firstLine: line });
    }
    for (const [i, s] of starts.entries()) ranges.push({ ...s, end: starts[i + 1]?.start ?? size });
  } finally {
    await handle.close();
  }
  return ranges;
}
