/**
 * Temporal connection settings in the SDK's own conventions (@temporalio/envconfig): TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the profile file
 * (~/.config/temporalio/temporal.toml), so settings that work for the `temporal` CLI work for us.
 */
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';

export const DEFAULT_TASK_QUEUE = 'zim-migrate';

export function temporalSettings(env: NodeJS.ProcessEnv = process.env) {
  const config = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  return {
    connectionOptions: { ...config.connectionOptions, address: config.connectionOptions.address ?? 'localhost:7233' },
    namespace: config.namespace ?? 'default',
    taskQueue: env.ZIM_MIGRATE_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
  };
}

export async function connectClient(env: NodeJS.ProcessEnv = process.env): Promise<Client> {
  const settings = temporalSettings(env);
  const connection = await Connection.connect(settings.connectionOptions);
  return new Client({ connection, namespace: settings.namespace });
}

export async function connectWorkerConnection(env: NodeJS.ProcessEnv = process.env) {
  const settings = temporalSettings(env);
  return { connection: await NativeConnection.connect(settings.connectionOptions), ...settings };
}
