import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/config-error';
import { resolveZimSettings } from '../../src/config/zim-config';
import { projectRoot } from '../../src/shared/project-root';
import {
  DEFAULT_POOL_SIZE,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  redactSecrets,
  redactUrl,
  resolveDatabaseSettings,
} from '../../src/postgres/database-settings';

const dir = mkdtempSync(path.join(tmpdir(), 'db-settings-'));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};
const URL_ = 'postgres://zim@db.example.com:6543/zim_migrate';

describe('database settings', () => {
  it('takes the URL apart, with the pool size and statement timeout defaults', () => {
    const s = resolveDatabaseSettings({ ZIM_MIGRATE_DATABASE_URL: URL_ });
    assert.equal(s.pool.host, 'db.example.com');
    assert.equal(s.pool.port, 6543);
    assert.equal(s.pool.user, 'zim');
    assert.equal(s.pool.database, 'zim_migrate');
    assert.equal(s.pool.password, undefined);
    assert.equal(s.pool.max, DEFAULT_POOL_SIZE);
    assert.equal(s.pool.statement_timeout, DEFAULT_STATEMENT_TIMEOUT_MS);
    assert.equal(s.pool.ssl, false);
    assert.equal(s.safeUrl, URL_);
  });

  it('takes the password from the environment, else a file, else the URL', () => {
    const withUrl = 'postgres://zim:in-url-pw@db.example.com/zim_migrate';
    assert.equal(resolveDatabaseSettings({ ZIM_MIGRATE_DATABASE_URL: withUrl }).pool.password, 'in-url-pw');
    const pwFile = file('pw', 'from-file-pw\n');
    assert.equal(
      resolveDatabaseSettings({ ZIM_MIGRATE_DATABASE_URL: withUrl, ZIM_MIGRATE_DATABASE_PASSWORD_FILE: pwFile }).pool
        .password,
      'from-file-pw'
    );
    assert.equal(
      resolveDatabaseSettings({
        ZIM_MIGRATE_DATABASE_URL: withUrl,
        ZIM_MIGRATE_DATABASE_PASSWORD: 'env-pw',
        ZIM_MIGRATE_DATABASE_PASSWORD_FILE: pwFile,
      }).pool.password,
      'env-pw'
    );
    assert.equal(resolveDatabaseSettings({ ZIM_MIGRATE_DATABASE_URL: withUrl }).safeUrl, redactUrl(withUrl));
    assert.doesNotMatch(redactUrl(withUrl), /in-url-pw/);
  });

  it('sets TLS from the URL or the environment, with CA, certificate and key from files', () => {
    assert.equal(resolveDatabaseSettings({ ZIM_MIGRATE_DATABASE_URL: `${URL_}?sslmode=require` }).tls, 'require');
    const s = resolveDatabaseSettings({
      ZIM_MIGRATE_DATABASE_URL: `${URL_}?sslmode=require`,
      ZIM_MIGRATE_DATABASE_TLS: 'verify-full',
      ZIM_MIGRATE_DATABASE_TLS_CA_FILE: file('ca.pem', 'CA'),
      ZIM_MIGRATE_DATABASE_TLS_CERT_FILE: file('cert.pem', 'CERT'),
      ZIM_MIGRATE_DATABASE_TLS_KEY_FILE: file('key.pem', 'KEY'),
    });
    assert.equal(s.tls, 'verify-full');
    assert.deepEqual(s.pool.ssl, { rejectUnauthorized: true, ca: 'CA', cert: 'CERT', key: 'KEY' });
  });

  it('names the setting at fault and never the password', () => {
    const bad = (env: NodeJS.ProcessEnv, re: RegExp) =>
      assert.throws(
        () => resolveDatabaseSettings(env),
        (err: unknown) => err instanceof ConfigError && re.test(err.message) && !/sekret/.test(err.message)
      );
    bad({}, /ZIM_MIGRATE_DATABASE_URL is not set/);
    bad({ ZIM_MIGRATE_DATABASE_URL: 'mysql://u:sekret@h/d' }, /must be a PostgreSQL URL/);
    bad({ ZIM_MIGRATE_DATABASE_URL: URL_, ZIM_MIGRATE_DATABASE_POOL_SIZE: '0' }, /POOL_SIZE must be a whole number/);
    bad(
      { ZIM_MIGRATE_DATABASE_URL: URL_, ZIM_MIGRATE_DATABASE_STATEMENT_TIMEOUT_MS: 'soon' },
      /STATEMENT_TIMEOUT_MS must be/
    );
    bad({ ZIM_MIGRATE_DATABASE_URL: URL_, ZIM_MIGRATE_DATABASE_TLS: 'yes' }, /ZIM_MIGRATE_DATABASE_TLS must be/);
    bad(
      { ZIM_MIGRATE_DATABASE_URL: URL_, ZIM_MIGRATE_DATABASE_PASSWORD_FILE: path.join(dir, 'missing') },
      /Cannot read the database password file named by ZIM_MIGRATE_DATABASE_PASSWORD_FILE/
    );
    assert.equal(redactSecrets('auth failed for sekret-pw', ['sekret-pw']), 'auth failed for ***');
  });

  it('lets the call schedule setting be a database URL, kept as it is; never with a password in the config file', () => {
    const base = { ZIM_APP_ID: '1', ZIM_SERVER_SECRET: 'a'.repeat(32) };
    const s = resolveZimSettings({ flags: {}, env: { ...base, ZIM_MIGRATE_BUDGET_DB: URL_ } });
    assert.equal(s.config.budgetDbPath, URL_);
    const inFile = (budgetDb: string) =>
      resolveZimSettings({
        flags: {},
        env: base,
        file: { path: path.join(dir, 'c.json'), via: 'default', values: { budgetDb } },
      });
    assert.equal(inFile(URL_).config.budgetDbPath, URL_);
    assert.throws(
      () => inFile('postgres://zim:sekret@db/zim'),
      (err: unknown) =>
        err instanceof ConfigError && /may not hold secrets/.test(err.message) && !/sekret/.test(err.message)
    );
  });

  it('zim-migrate config shows a schedule URL with its password replaced', () => {
    const r = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'zim-migrate.js'), 'config'], {
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        ZIM_APP_ID: '1',
        ZIM_SERVER_SECRET: 'a'.repeat(32),
        ZIM_MIGRATE_BUDGET_DB: 'postgres://zim:s3cret-pw@db.example.com/zm',
      },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /budgetDb\s+postgres:\/\/zim:\*\*\*@db\.example\.com\/zm\s+ZIM_MIGRATE_BUDGET_DB/);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cret-pw/);
  });
});
