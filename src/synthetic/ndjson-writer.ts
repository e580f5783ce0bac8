/** Writes NDJSON (optionally gzip) with large buffered writes and stream backpressure respected. */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import type { Writable } from 'node:stream';

const FLUSH_AT = 1024 * 1024;

export class NdjsonFileWriter {
  private readonly file: WriteStream;
  private readonly sink: Writable;
  private readonly gzip: Gzip | null;
  private parts: (string | Buffer)[] = [];
  private size = 0;
  lines = 0;

  constructor(
    readonly path: string,
    gzip: boolean
  ) {
    this.file = createWriteStream(path);
    this.gzip = gzip ? createGzip() : null;
    if (this.gzip) this.gzip.pipe(this.file);
    this.sink = this.gzip ?? this.file;
  }

  write(record: unknown): void {
    this.raw(JSON.stringify(record) + '\n');
  }

  /** A line as given (tests inject malformed lines and raw bytes this way). */
  raw(line: string | Buffer): void {
    this.parts.push(line);
    this.size += line.length;
    this.lines++;
    if (this.size >= FLUSH_AT) this.flush();
  }

  /** Waits while the stream is over its buffer, so memory stays bounded however much is written. */
  async settle(): Promise<void> {
    if (this.sink.writableNeedDrain) await once(this.sink, 'drain');
  }

  async close(): Promise<void> {
    this.flush();
    this.sink.end();
    await once(this.file, 'close');
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    const chunk = Buffer.concat(this.parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.parts = [];
    this.size = 0;
    this.sink.write(chunk);
  }
}
