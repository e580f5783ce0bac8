import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { MAX_LINE_BYTES, readNdjsonFile, splitAtLines } from '../../src/import-format/ndjson-reader';
import type { RuleId } from '../../src/import-format/rules';
import { tempDir } from '../helpers/exports';

interface Read {
  records: [number, Record<string, unknown>][];
  rejects: [number | null, RuleId][];
  summary: Awaited<ReturnType<typeof readNdjsonFile>>;
}

async function read(bytes: Buffer | string, name = 'f.ndjson'): Promise<Read> {
  const file = path.join(tempDir('reader'), name);
  writeFileSync(file, bytes);
  const out: Read = { records: [], rejects: [], summary: { lines: 0, contentLines: 0, records: 0 } };
  out.summary = await readNdjsonFile(file, {
    record: (line, value) => out.records.push([line, value]),
    reject: (line, rule) => out.rejects.push([line, rule]),
  });
  return out;
}

const ok = (n: number) => JSON.stringify({ n });

describe('readNdjsonFile', () => {
  it('reads records with their line numbers, skips blank lines and reads a last line without a newline', async () => {
    const r = await read(`${ok(1)}\n\n  \n${ok(2)}\n${ok(3)}`);
    assert.deepEqual(
      r.records.map(([line, v]) => [line, v.n]),
      [
        [1, 1],
        [4, 2],
        [5, 3],
      ]
    );
    assert.deepEqual(r.rejects, []);
    assert.deepEqual(r.summary, { lines: 5, contentLines: 3, records: 3 });
  });

  it('rejects malformed JSON and non-objects by line, and keeps the lines around them', async () => {
    const r = await read([ok(1), '{"n":', '[1,2]', '"text"', 'null', ok(6)].join('\n') + '\n');
    assert.deepEqual(r.rejects, [
      [2, 'line.invalid-json'],
      [3, 'line.not-object'],
      [4, 'line.not-object'],
      [5, 'line.not-object'],
    ]);
    assert.deepEqual(
      r.records.map(([line]) => line),
      [1, 6]
    );
  });

  it('rejects invalid UTF-8 without touching the next line', async () => {
    const bad = Buffer.concat([Buffer.from('{"n":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]);
    const r = await read(Buffer.concat([Buffer.from(ok(1) + '\n'), bad, Buffer.from(ok(3) + '\n')]));
    assert.deepEqual(r.rejects, [[2, 'line.invalid-utf8']]);
    assert.equal(r.records.length, 2);
  });

  it('drops a BOM and reads CRLF lines, warning once for each', async () => {
    const r = await read(
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${ok(1)}\r\n${ok(2)}\r\n${ok(3)}\r\n`)])
    );
    assert.deepEqual(r.rejects, [
      [1, 'file.bom'],
      [1, 'file.crlf'],
    ]);
    assert.deepEqual(
      r.records.map(([, v]) => v.n),
      [1, 2, 3]
    );
  });

  it('rejects a line over 1 MiB without holding it, then reads on', async () => {
    const long = JSON.stringify({ n: 'x'.repeat(MAX_LINE_BYTES + 10) });
    const r = await read(`${ok(1)}\n${long}\n${ok(3)}\n`);
    assert.deepEqual(r.rejects, [[2, 'line.too-long']]);
    assert.deepEqual(
      r.records.map(([line]) => line),
      [1, 3]
    );
  });

  it('rejects __proto__, constructor and prototype keys at any depth but not such words in values', async () => {
    const r = await read(
      [
        '{"__proto__":{"admin":true}}',
        '{"a":{"constructor":{"prototype":1}}}',
        '{"b":[{"prototype":2}]}',
        '{"text":"constructor"}',
      ].join('\n')
    );
    assert.deepEqual(r.rejects, [
      [1, 'line.forbidden-key'],
      [2, 'line.forbidden-key'],
      [3, 'line.forbidden-key'],
    ]);
    assert.deepEqual(r.records, [[4, { text: 'constructor' }]]);
    assert.equal(({} as Record<string, unknown>).admin, undefined);
  });

  it('reads gzip, and reports a truncated gzip after the lines it could read', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => ok(i)).join('\n') + '\n';
    const whole = await read(gzipSync(lines), 'f.ndjson.gz');
    assert.equal(whole.records.length, 2000);
    assert.deepEqual(whole.rejects, []);

    const gz = gzipSync(lines);
    const cut = await read(gz.subarray(0, Math.floor(gz.length / 2)), 'f.ndjson.gz');
    assert.equal(cut.rejects.length, 1);
    const [line, rule] = cut.rejects[0]!;
    assert.equal(rule, 'file.gzip-corrupt');
    assert.ok(cut.records.length > 0 && cut.records.length < 2000);
    assert.equal(line, cut.records.length + 1, 'the reject names the first line not read');
    assert.deepEqual(
      cut.records.map(([l]) => l),
      Array.from({ length: cut.records.length }, (_, i) => i + 1)
    );
  });

  it('says so when a gzip file lacks .gz, or a .gz file is not gzip', async () => {
    assert.deepEqual((await read(gzipSync(ok(1)))).rejects, [[null, 'file.unreadable']]);
    assert.deepEqual((await read(ok(1), 'f.ndjson.gz')).rejects, [[1, 'file.gzip-corrupt']]);
  });

  it('reports a missing file instead of throwing', async () => {
    const out: [number | null, RuleId][] = [];
    const summary = await readNdjsonFile(path.join(tempDir('reader'), 'nope.ndjson'), {
      record: () => assert.fail('no records'),
      reject: (line, rule) => out.push([line, rule]),
    });
    assert.deepEqual(out, [[null, 'file.unreadable']]);
    assert.equal(summary.records, 0);
  });
});

describe('splitAtLines', () => {
  it('cuts a file at line starts so that the parts read exactly the lines of the whole, with their numbers', async () => {
    const lines = Array.from({ length: 999 }, (_, i) =>
      i % 10 === 3 ? '' : JSON.stringify({ n: i, pad: 'x'.repeat(i % 37) })
    );
    const file = path.join(tempDir('split'), 'f.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');
    const whole: [number, unknown][] = [];
    await readNdjsonFile(file, { record: (line, v) => whole.push([line, v.n]), reject: () => assert.fail() });
    for (const parts of [1, 2, 3, 7]) {
      const ranges = await splitAtLines(file, parts);
      assert.equal(ranges.length, parts);
      assert.equal(ranges[0]!.start, 0);
      const got: [number, unknown][] = [];
      for (const range of ranges)
        await readNdjsonFile(file, { record: (line, v) => got.push([line, v.n]), reject: () => assert.fail() }, range);
      assert.deepEqual(got, whole, `${parts} parts`);
    }
  });
});
