/**
 * A vendor's export as a list of named files, from a directory (recursively) or a zip (yauzl, read entry by entry
 * so a large archive is never held whole), with `.gz` members unpacked on read. Errors name the archive and say what
 * to do: a truncated zip is almost always an interrupted download.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import yauzl from 'yauzl';

export class ExportArchiveError extends Error {
  override name = 'ExportArchiveError';
}

export interface ExportArchive {
  /** Entry names, sorted, `/`-separated, relative to the archive's root. */
  names: string[];
  read(name: string): Promise<Buffer>;
  close(): void;
}

const maybeGunzip = (name: string, buf: Buffer) => {
  if (!name.endsWith('.gz')) return buf;
  try {
    return gunzipSync(buf);
  } catch (err) {
    throw new ExportArchiveError(
      `${name} is not a complete gzip file (${(err as Error).message}): download the export again`
    );
  }
};

export async function openExportArchive(location: string): Promise<ExportArchive> {
  let stat;
  try {
    stat = statSync(location);
  } catch {
    throw new ExportArchiveError(`${location} does not exist: pass the directory or zip of a Sendbird data export`);
  }
  if (stat.isDirectory()) {
    const names = readdirSync(location, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => path.relative(location, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
      .sort();
    return {
      names,
      read: async (name) => maybeGunzip(name, readFileSync(path.join(location, ...name.split('/')))),
      close: () => undefined,
    };
  }
  return openZip(location);
}

function openZip(file: string): Promise<ExportArchive> {
  const broken = (err: Error) =>
    new ExportArchiveError(
      `${file} is not a readable zip (${err.message}): the download was probably cut short. Download the export again ` +
        '(Sendbird export links expire 7 days after the export; request a new export if it has), check it with `unzip -t`, and retry'
    );
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, zip) => {
      if (err || !zip) return reject(broken(err ?? new Error('no archive')));
      const entries = new Map<string, yauzl.Entry>();
      zip.on('error', (e: Error) => reject(broken(e)));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (!entry.fileName.endsWith('/') && !path.posix.basename(entry.fileName).startsWith('.'))
          entries.set(entry.fileName, entry);
        zip.readEntry();
      });
      zip.on('end', () =>
        resolve({
          names: [...entries.keys()].sort(),
          read: (name) =>
            new Promise<Buffer>((res, rej) => {
              const entry = entries.get(name);
              if (!entry) return rej(new ExportArchiveError(`${file} has no entry ${name}`));
              zip.openReadStream(entry, (e, stream) => {
                if (e || !stream) return rej(broken(e ?? new Error(`cannot read ${name}`)));
                const chunks: Buffer[] = [];
                stream.on('data', (c: Buffer) => chunks.push(c));
                stream.on('error', (se: Error) => rej(broken(se)));
                stream.on('end', () => {
                  try {
                    res(maybeGunzip(name, Buffer.concat(chunks)));
                  } catch (ge) {
                    rej(ge instanceof Error ? ge : new Error(String(ge)));
                  }
                });
              });
            }),
          close: () => zip.close(),
        })
      );
      zip.readEntry();
    });
  });
}
