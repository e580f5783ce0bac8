import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/config-error';
import { CONFIG_FILE_KEYS, chooseConfigFile, loadConfigFile } from '../../src/config/config-file';
import type { SettingLayers } from '../../src/config/layered-settings';
import { resolveStartSettings } from '../../src/config/start-settings';
import { resolveStepMs } from '../../src/config/plan-settings';
import { DEFAULT_STEP_MS } from '../../src/shared/chains';
import { resolveZimSettings } from '../../src/config/zim-config';
import { projectRoot } from '../../src/shared/project-root';
import { UsageError } from '../../src/shared/usage-error';
import { resolveTemporalSettings } from '../../src/temporal-connection/connect';
import { DEFAULT_WORKFLOW_HEAP_MB } from '../../src/worker/workflow-memory';

const SECRET = '9193cc662a4c0ec135ec71fb57194b38';
const OTHER_SECRET = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5';

/** A fresh directory with a config file (JSON text as given) and a secret file next to it. */
function workspace(config: unknown, secret = SECRET) {
  const dir = mkdtempSync(path.join(tmpdir(), 'zim-config-'));
  writeFileSync(path.join(dir, 'secret'), `${secret}\n`, { mode: 0o600 });
  const file = path.join(dir, 'zim-migrate.config.json');
  if (config !== undefined) writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return { dir, file };
}

/** Temporal's profile file is pinned to a path that does not exist, so a developer's own profiles never leak in. */
const baseEnv = { TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' };

function layers(dir: string, flags: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): SettingLayers {
  const allEnv = { ...baseEnv, ...env };
  return { flags, env: allEnv, file: loadConfigFile(flags.config as string | undefined, allEnv, dir) };
}

const configError = (pattern: RegExp, forbidden?: string) => (err: unknown) => {
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
  assert.ok(err instanceof UsageError, 'configuration errors exit 2 like bad usage');
  assert.match(err.message, pattern);
  if (forbidden) assert.ok(!err.message.includes(forbidden), 'the message must not repeat the secret');
  return true;
};

describe('config file: which one applies', () => {
  it('takes --config, else ZIM_MIGRATE_CONFIG, else ./zim-migrate.config.json when present, else none', () => {
    const { dir, file } = workspace({ appId: 1 });
    assert.deepEqual(chooseConfigFile('other.json', { ZIM_MIGRATE_CONFIG: 'env.json' }, dir), {
      path: path.join(dir, 'other.json'),
      via: '--config',
    });
    assert.deepEqual(chooseConfigFile(undefined, { ZIM_MIGRATE_CONFIG: 'env.json' }, dir), {
      path: path.join(dir, 'env.json'),
      via: 'ZIM_MIGRATE_CONFIG',
    });
    assert.deepEqual(chooseConfigFile(undefined, {}, dir), { path: file, via: 'default' });
    assert.equal(chooseConfigFile(undefined, {}, workspace(undefined).dir), undefined);
  });

  it('fails when an explicitly named file is missing, naming it and the way out', () => {
    const { dir } = workspace(undefined);
    assert.throws(
      () => loadConfigFile('nope.json', {}, dir),
      configError(/config file .*nope\.json \(from --config\): cannot read it \(ENOENT\).*drop --config/)
    );
    assert.throws(
      () => loadConfigFile(undefined, { ZIM_MIGRATE_CONFIG: 'gone.json' }, dir),
      configError(/gone\.json \(from ZIM_MIGRATE_CONFIG\).*ENOENT.*drop ZIM_MIGRATE_CONFIG/)
    );
  });
});

describe('settings precedence: flags > environment > config file > defaults', () => {
  const fileValues = {
    appId: 111,
    baseUrl: 'http://file.example',
    serverSecretFile: './secret',
    budgetDb: './budgets.sqlite',
    budgetHeadroomPercent: 3,
    taskQueue: 'from-file',
    errorBudgetPercent: 5,
    budgets: { ImportPeerMsg: 15, UserRegister: 10 },
  };

  it('uses the config file over the defaults, with its paths relative to the file', () => {
    const { dir } = workspace(fileValues);
    const zim = resolveZimSettings(layers(dir));
    assert.deepEqual(zim.config, {
      appId: 111,
      baseUrl: 'http://file.example',
      serverSecret: SECRET,
      budgetDbPath: path.join(dir, 'budgets.sqlite'),
      budgetHeadroomPercent: 3,
      zimTimeoutMs: 15_000,
      workflowHeapMb: DEFAULT_WORKFLOW_HEAP_MB,
    });
    assert.deepEqual(zim.sources.appId, {
      kind: 'file',
      name: 'appId',
      file: path.join(dir, 'zim-migrate.config.json'),
    });
    assert.equal(resolveTemporalSettings(layers(dir)).taskQueue, 'from-file');
    const start = resolveStartSettings(layers(dir), {});
    assert.equal(start.errorBudgetPercent.value, 5);
    assert.deepEqual(start.budgets, { ImportPeerMsg: 15, UserRegister: 10 });
  });

  it('lets the environment override the file, and flags override both', () => {
    const { dir } = workspace(fileValues);
    const env = {
      ZIM_APP_ID: '222',
      ZIM_BASE_URL: 'http://env.example/',
      ZIM_MIGRATE_BUDGET_DB: '/var/lib/env.sqlite',
      ZIM_MIGRATE_BUDGET_HEADROOM: '4.5',
      ZIM_MIGRATE_TASK_QUEUE: 'from-env',
    };
    const fromEnv = resolveZimSettings(layers(dir, {}, env));
    assert.deepEqual(
      [fromEnv.config.appId, fromEnv.config.baseUrl, fromEnv.config.budgetDbPath, fromEnv.config.budgetHeadroomPercent],
      [222, 'http://env.example', '/var/lib/env.sqlite', 4.5]
    );
    assert.deepEqual(fromEnv.sources.appId, { kind: 'env', name: 'ZIM_APP_ID' });
    assert.equal(resolveTemporalSettings(layers(dir, {}, env)).taskQueue, 'from-env');

    const flags = { appId: '333', baseUrl: 'http://flag.example', taskQueue: 'from-flag', errorBudget: '2' };
    const fromFlags = resolveZimSettings(layers(dir, flags, env));
    assert.deepEqual([fromFlags.config.appId, fromFlags.config.baseUrl], [333, 'http://flag.example']);
    assert.deepEqual(fromFlags.sources.appId, { kind: 'flag', name: '--app-id' });
    assert.equal(resolveTemporalSettings(layers(dir, flags, env)).taskQueue, 'from-flag');
    const start = resolveStartSettings(layers(dir, flags), { ImportPeerMsg: 8 });
    assert.equal(start.errorBudgetPercent.value, 2);
    assert.deepEqual(start.budgets, { ImportPeerMsg: 8, UserRegister: 10 }, 'flags override budgets Action by Action');
  });

  it('takes the ServerSecret from --server-secret-file, ZIM_SERVER_SECRET, ZIM_SERVER_SECRET_FILE, the file, in that order', () => {
    const { dir } = workspace(fileValues);
    const otherFile = path.join(dir, 'other-secret');
    writeFileSync(otherFile, OTHER_SECRET);
    const secretOf = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv) =>
      resolveZimSettings(layers(dir, flags, env)).config.serverSecret;
    assert.equal(secretOf({}, {}), SECRET);
    assert.equal(secretOf({}, { ZIM_SERVER_SECRET_FILE: otherFile }), OTHER_SECRET);
    assert.equal(
      secretOf({}, { ZIM_SERVER_SECRET: OTHER_SECRET, ZIM_SERVER_SECRET_FILE: '/nonexistent' }),
      OTHER_SECRET
    );
    assert.equal(secretOf({ serverSecretFile: path.join(dir, 'secret') }, { ZIM_SERVER_SECRET: OTHER_SECRET }), SECRET);
  });

  it('uses the defaults when nothing is set, and treats an empty variable as unset', () => {
    const { dir } = workspace(undefined);
    const zim = resolveZimSettings(layers(dir, {}, { ZIM_APP_ID: '7', ZIM_SERVER_SECRET: SECRET, ZIM_BASE_URL: '' }));
    assert.equal(zim.config.baseUrl, 'https://zim-api.zego.im');
    assert.match(zim.config.budgetDbPath, /\.zim-migrate\/call-budgets\.sqlite$/);
    assert.equal(zim.config.budgetHeadroomPercent, 2);
    assert.deepEqual(zim.sources.baseUrl, { kind: 'default' });
    const t = resolveTemporalSettings(layers(dir));
    assert.deepEqual(
      [t.taskQueue, t.connectionOptions.address, t.namespace],
      ['zim-migrate', 'localhost:7233', 'default']
    );
    assert.equal(resolveStartSettings(layers(dir), {}).errorBudgetPercent.value, 1);
  });

  it('takes the ZIM request timeout from ZIM_MIGRATE_ZIM_TIMEOUT_MS, in whole ms from 1 s to its default 15 s (shorter only)', () => {
    const { dir } = workspace(undefined);
    const env = { ZIM_APP_ID: '7', ZIM_SERVER_SECRET: SECRET };
    assert.equal(resolveZimSettings(layers(dir, {}, env)).config.zimTimeoutMs, 15_000);
    const set = resolveZimSettings(layers(dir, {}, { ...env, ZIM_MIGRATE_ZIM_TIMEOUT_MS: '5000' }));
    assert.equal(set.config.zimTimeoutMs, 5_000);
    assert.deepEqual(set.sources.zimTimeout, { kind: 'env', name: 'ZIM_MIGRATE_ZIM_TIMEOUT_MS' });
    for (const bad of ['500', '2500.5', '15001', 'soon'])
      assert.throws(
        () => resolveZimSettings(layers(dir, {}, { ...env, ZIM_MIGRATE_ZIM_TIMEOUT_MS: bad })),
        /ZIM_MIGRATE_ZIM_TIMEOUT_MS must be the time one ZIM call may take in ms/
      );
  });

  it('takes the workflow heap from ZIM_MIGRATE_WORKFLOW_HEAP_MB or the file, in whole MB from 96 to 4096', () => {
    const { dir } = workspace({ workflowHeapMb: 256 });
    const env = { ZIM_APP_ID: '7', ZIM_SERVER_SECRET: SECRET };
    assert.equal(resolveZimSettings(layers(dir, {}, env)).config.workflowHeapMb, 256);
    const set = resolveZimSettings(layers(dir, {}, { ...env, ZIM_MIGRATE_WORKFLOW_HEAP_MB: '512' }));
    assert.equal(set.config.workflowHeapMb, 512);
    assert.deepEqual(set.sources.workflowHeap, { kind: 'env', name: 'ZIM_MIGRATE_WORKFLOW_HEAP_MB' });
    for (const bad of ['64', '200.5', '5000', 'lots'])
      assert.throws(
        () => resolveZimSettings(layers(dir, {}, { ...env, ZIM_MIGRATE_WORKFLOW_HEAP_MB: bad })),
        /ZIM_MIGRATE_WORKFLOW_HEAP_MB must be the workflow thread's heap in MB/
      );
  });

  it('lets the file name a Temporal profile; TEMPORAL_PROFILE and TEMPORAL_ADDRESS still win', () => {
    const { dir } = workspace({ temporalProfile: 'prod' });
    const toml = path.join(dir, 'temporal.toml');
    writeFileSync(
      toml,
      '[profile.default]\naddress = "default.example:7233"\n\n[profile.prod]\naddress = "prod.example:7233"\nnamespace = "acme"\n\n[profile.staging]\naddress = "staging.example:7233"\n'
    );
    const env = { TEMPORAL_CONFIG_FILE: toml };
    const fromFile = resolveTemporalSettings(layers(dir, {}, env));
    assert.deepEqual([fromFile.connectionOptions.address, fromFile.namespace], ['prod.example:7233', 'acme']);
    assert.equal(
      resolveTemporalSettings(layers(dir, {}, { ...env, TEMPORAL_PROFILE: 'staging' })).connectionOptions.address,
      'staging.example:7233'
    );
    assert.equal(
      resolveTemporalSettings(layers(dir, {}, { ...env, TEMPORAL_ADDRESS: 'env.example:7233' })).connectionOptions
        .address,
      'env.example:7233'
    );
    const missing = workspace({ temporalProfile: 'nope' });
    assert.throws(
      () => resolveTemporalSettings(layers(missing.dir, {}, env)),
      configError(
        /profile "nope" \(from "temporalProfile" in .*zim-migrate\.config\.json\): Profile 'nope' not found.*temporal config list/
      )
    );
  });
});

describe('bad values name the setting, where it came from, and the fix', () => {
  it('in the config file', () => {
    const { dir } = workspace({
      appId: 'abc',
      baseUrl: 'ftp://zim',
      budgets: { ImportPeerMsg: 0, Nope: 3 },
      errorBudgetPercent: 300,
    });
    assert.throws(
      () => layers(dir),
      (err: unknown) => {
        configError(/zim-migrate\.config\.json: "appId" must be your ZIM AppID from the ZEGO console/)(err);
        const message = (err as Error).message;
        assert.match(message, /"baseUrl" must be ZIM's API host as an http\(s\) URL/);
        assert.match(message, /"budgets.ImportPeerMsg" must be calls per second/);
        assert.match(message, /"budgets" has unknown key\(s\) Nope.*Actions: UserRegister/);
        assert.match(message, /"errorBudgetPercent" must be a percentage from 0 to 100/);
        return true;
      }
    );
  });

  it('in flags and environment variables', () => {
    const { dir } = workspace(undefined);
    assert.throws(
      () => resolveZimSettings(layers(dir, {}, { ZIM_APP_ID: 'twelve', ZIM_SERVER_SECRET: SECRET })),
      configError(/^ZIM_APP_ID must be your ZIM AppID .* \(set by the environment\)$/)
    );
    assert.throws(
      () => resolveZimSettings(layers(dir, { appId: '0' }, { ZIM_SERVER_SECRET: SECRET })),
      configError(/^--app-id must be your ZIM AppID .* \(set by a flag\)$/)
    );
    assert.throws(
      () => resolveTemporalSettings(layers(dir, { taskQueue: 'has space' })),
      configError(/^--task-queue must be a Temporal task queue name/)
    );
    assert.throws(
      () => resolveStartSettings(layers(dir, { errorBudget: 'lots' }), {}),
      configError(/^--error-budget must be a percentage/)
    );
    assert.throws(
      () =>
        resolveZimSettings(
          layers(dir, {}, { ZIM_APP_ID: '1', ZIM_SERVER_SECRET: SECRET, ZIM_MIGRATE_BUDGET_HEADROOM: '60' })
        ),
      configError(/^ZIM_MIGRATE_BUDGET_HEADROOM must be the percentage of each budget left unused, .* 0 to 50/)
    );
  });

  it("for plan's chain step time, from --step-ms, ZIM_MIGRATE_STEP_MS or the file, else the measured default", () => {
    const { dir } = workspace({ stepMs: 25 });
    assert.deepEqual(resolveStepMs(layers(dir)).value, 25);
    assert.equal(resolveStepMs(layers(dir, {}, { ZIM_MIGRATE_STEP_MS: '9.5' })).value, 9.5);
    assert.equal(resolveStepMs(layers(dir, { stepMs: '0' }, { ZIM_MIGRATE_STEP_MS: '9.5' })).value, 0);
    const empty = workspace(undefined).dir;
    assert.deepEqual(resolveStepMs(layers(empty)), { value: DEFAULT_STEP_MS, source: { kind: 'default' } });
    assert.throws(
      () => resolveStepMs(layers(empty, { stepMs: 'fast' })),
      configError(/^--step-ms must be the time of one chain step in ms, .* \(set by a flag\)$/)
    );
    assert.throws(
      () => resolveStepMs(layers(empty, {}, { ZIM_MIGRATE_STEP_MS: '-3' })),
      configError(/^ZIM_MIGRATE_STEP_MS must be the time of one chain step/)
    );
    assert.throws(() => layers(workspace({ stepMs: 'slow' }).dir), configError(/"stepMs" must be the time of one/));
  });

  it('for a missing AppID or ServerSecret, listing every place it can come from', () => {
    const { dir } = workspace(undefined);
    assert.throws(
      () => resolveZimSettings(layers(dir, {}, { ZIM_SERVER_SECRET: SECRET })),
      configError(/ZIM_APP_ID is not set.*"appId" in the config file, or --app-id/)
    );
    assert.throws(
      () => resolveZimSettings(layers(dir, {}, { ZIM_APP_ID: '1' })),
      configError(/No ZIM ServerSecret: set ZIM_SERVER_SECRET, or ZIM_SERVER_SECRET_FILE.*"serverSecretFile"/)
    );
  });

  it('rejects unknown keys, suggesting the likely one, and points Temporal settings to their own conventions', () => {
    const typo = workspace({ appid: 5, taskQueu: 'q', colour: 'blue' });
    assert.throws(
      () => layers(typo.dir),
      (err: unknown) => {
        configError(/unknown setting "appid" \(did you mean "appId"\?\)/)(err);
        assert.match((err as Error).message, /unknown setting "taskQueu" \(did you mean "taskQueue"\?\)/);
        assert.match((err as Error).message, /unknown setting "colour"; a config file holds only: appId, baseUrl/);
        return true;
      }
    );
    const temporal = workspace({ temporalAddress: 'x:7233', namespace: 'n' });
    assert.throws(
      () => layers(temporal.dir),
      configError(/"temporalAddress" is not read from this file\. .*TEMPORAL_ADDRESS.*"temporalProfile"/)
    );
  });

  it('reports invalid JSON by position only: the text around the error could be a secret', () => {
    const { dir } = workspace(`{\n  "appId": 5,\n  "serverSecretFile": ${SECRET}\n}`);
    assert.throws(() => layers(dir), configError(/not valid JSON \(near line 3, column \d+\)/, SECRET));
    assert.throws(() => layers(workspace('[1, 2]').dir), configError(/must be a JSON object of settings/));
  });
});

describe('secrets never live in the config file', () => {
  it('refuses a ServerSecret written into the file, saying why and what to do instead, without echoing it', () => {
    for (const key of ['serverSecret', 'ZIM_SERVER_SECRET', 'secret']) {
      const { dir } = workspace({ appId: 5, [key]: SECRET });
      assert.throws(
        () => layers(dir),
        configError(
          new RegExp(
            `"${key}" would keep the ZIM ServerSecret in plain text .* refuses it\\. Remove it, and either export ZIM_SERVER_SECRET .* "serverSecretFile"`
          ),
          SECRET
        )
      );
    }
  });

  it('refuses other credentials (a Temporal API key) the same way', () => {
    const { dir } = workspace({ temporalApiKey: 'tk-123' });
    assert.throws(
      () => layers(dir),
      configError(/"temporalApiKey" would keep a credential .*TEMPORAL_API_KEY/, 'tk-123')
    );
  });

  it('never echoes a secret put where a path belongs, nor a malformed secret', () => {
    const { dir } = workspace({ appId: 5, serverSecretFile: SECRET });
    assert.throws(
      () => resolveZimSettings(layers(dir)),
      configError(
        /"serverSecretFile" in .* \(its value looks like the secret itself, not a path to a file holding it\): ENOENT/,
        SECRET
      )
    );
    const bad = 'not-a-secret-value-at-all-123456';
    assert.throws(
      () => resolveZimSettings(layers(dir, {}, { ZIM_SERVER_SECRET: bad })),
      configError(/The ZIM ServerSecret from ZIM_SERVER_SECRET must be the 32-character string/, bad)
    );
    const badFile = workspace({ appId: 5, serverSecretFile: './secret' }, bad);
    assert.throws(
      () => resolveZimSettings(layers(badFile.dir)),
      configError(/from "serverSecretFile" in .* \(.*secret\) must be the 32-character string/, bad)
    );
  });
});

describe('docs/configuration.md', () => {
  it('documents every key a config file may hold', () => {
    const doc = readFileSync(path.join(projectRoot(), 'docs', 'configuration.md'), 'utf8');
    for (const key of CONFIG_FILE_KEYS) assert.match(doc, new RegExp(`\\| \`${key}\` \\|`), key);
  });
});
