/**
 * Temporal connection settings in the SDK's own conventions (@temporalio/envconfig): TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the profile file
 * (~/.config/temporalio/temporal.toml, or TEMPORAL_CONFIG_FILE), so settings that work for the `temporal` CLI work
 * for us. Our config file may only name the profile; the task queue and the UI link are ours.
 */
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError } from '../config/config-error';
import {
  describeSource,
  resolveSetting,
  resolveWithDefault,
  type Resolved,
  type SettingLayers,
} from '../config/layered-settings';
import { settingSchemas } from '../config/setting-schemas';

export const DEFAULT_TASK_QUEUE = 'zim-migrate';

const TEMPORAL_SETTING_SPECS = {
  taskQueue: {
    flag: '--task-queue',
    env: 'ZIM_MIGRATE_TASK_QUEUE',
    fileKey: 'taskQueue',
    schema: settingSchemas.taskQueue,
  },
  /** The SDK reads TEMPORAL_PROFILE itself; resolving it here lets our config file name a profile below it. */
  profile: { env: 'TEMPORAL_PROFILE', fileKey: 'temporalProfile', schema: settingSchemas.temporalProfile },
  uiUrl: { env: 'TEMPORAL_UI_URL', fileKey: 'temporalUiUrl', schema: settingSchemas.url },
} as const;

export interface TemporalSettings {
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'] & { address: string };
  namespace: string;
  taskQueue: string;
  sources: { taskQueue: Resolved<string>['source']; profile?: Resolved<string> };
  /** The Temporal UI's base URL, when known: TEMPORAL_UI_URL, the config file, or the dev server's default. */
  uiUrl?: string;
}

const PROFILE_FIX =
  'List the profiles with "temporal config list", create one with ' +
  '"temporal config set --profile NAME --prop address --value HOST:7233", or unset TEMPORAL_PROFILE / "temporalProfile".';

function loadConnectConfig(layers: SettingLayers, profile: Resolved<string> | undefined) {
  try {
    return loadClientConnectConfig({
      ...(profile && { profile: profile.value }),
      overrideEnvVars: layers.env as Record<string, string>,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : '';
    // The SDK's own validation messages name keys only; a TOML parse error quotes the file, which may hold an API key.
    const detail = /^(Validation error|Profile '|Cannot specify)/.test(message)
      ? message
      : 'the file cannot be parsed (check it with "temporal config list")';
    const which = profile ? ` for profile "${profile.value}" (from ${describeSource(profile.source)})` : '';
    throw new ConfigError(
      `Temporal connection settings${which}: ${detail}. The profile file is TEMPORAL_CONFIG_FILE or ` +
        `~/.config/temporalio/temporal.toml. ${PROFILE_FIX}`
    );
  }
}

export function resolveTemporalSettings(layers: SettingLayers): TemporalSettings {
  const profile = resolveSetting(layers, TEMPORAL_SETTING_SPECS.profile);
  const config = loadConnectConfig(layers, profile);
  const taskQueue = resolveWithDefault(layers, TEMPORAL_SETTING_SPECS.taskQueue, DEFAULT_TASK_QUEUE);
  const address = config.connectionOptions.address ?? 'localhost:7233';
  const uiUrl =
    resolveSetting(layers, TEMPORAL_SETTING_SPECS.uiUrl)?.value ??
    (/^(localhost|127\.0\.0\.1):7233$/.test(address) ? 'http://localhost:8233' : undefined);
  return {
    connectionOptions: { ...config.connectionOptions, address },
    namespace: config.namespace ?? 'default',
    taskQueue: taskQueue.value,
    sources: { taskQueue: taskQueue.source, ...(profile && { profile }) },
    ...(uiUrl && { uiUrl: uiUrl.replace(/\/+$/, '') }),
  };
}

/** Settings from the environment alone (tests, embedding). */
export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  return resolveTemporalSettings({ flags: {}, env });
}

/** A connection failure as the operator needs it: where we tried, and how to check and fix it. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
  constructor(settings: TemporalSettings, cause: unknown) {
    const why = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0]!.slice(0, 300);
    const { address } = settings.connectionOptions;
    super(
      `Cannot reach Temporal at ${address} (namespace ${settings.namespace}): ${why}. ` +
        `Check that the server runs ("temporal operator cluster health --address ${address}"), that TEMPORAL_ADDRESS ` +
        `or the profile points at it, and TLS/API key settings; "zim-migrate config" shows what is used.`,
      { cause }
    );
  }
}

export async function connectClient(settings: TemporalSettings = temporalSettings()): Promise<Client> {
  const connection = await Connection.connect(settings.connectionOptions).catch((err: unknown) => {
    throw new TemporalUnreachableError(settings, err);
  });
  return new Client({ connection, namespace: settings.namespace });
}

export async function connectWorkerConnection(settings: TemporalSettings = temporalSettings()) {
  const connection = await NativeConnection.connect(settings.connectionOptions).catch((err: unknown) => {
    throw new TemporalUnreachableError(settings, err);
  });
  return { connection, ...settings };
}
