/**
 * One signed read before a worker takes tasks. A wrong ServerSecret, AppID, host or clock makes ZIM refuse every
 * call at its gateway; found only by the migration, that costs a hundred records marked failed before the error
 * budget pauses it. Here it costs one QueryUserInfos call and the worker refuses to start, saying what to fix.
 * Any answer past the gateway (even "user not registered" or "too frequent") proves the credentials work; a
 * transport failure (502, reset, timeout) is tried again for about 7 s before the worker says ZIM is unreachable.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../config/config-error';
import type { ZimConfig } from '../config/zim-config';
import { ZimClient, ZimCode, ZimError, zimCodeName } from '../zim-client';

/** An id no migration uses: the answer about it does not matter, only that the gateway accepted the call. */
export const CREDENTIAL_PROBE_USER = 'zim-migrate-credential-check';

const GATEWAY_FIXES: ReadonlyMap<number, string> = new Map([
  [
    ZimCode.SIGNATURE_ERROR,
    'the ServerSecret does not match the AppID: copy both from the same project in the ZEGO console ' +
      '(ZIM_APP_ID, and ZIM_SERVER_SECRET or the file ZIM_SERVER_SECRET_FILE names)',
  ],
  [
    ZimCode.SIGNATURE_EXPIRED,
    "this machine's clock is more than 10 minutes off: compare `date -u` with a time source and enable NTP " +
      '(e.g. `timedatectl set-ntp true`)',
  ],
  [ZimCode.APP_ID_FORMAT, 'ZIM rejects the AppID: check ZIM_APP_ID against the ZEGO console'],
  [ZimCode.WRONG_HOST, "ZIM_BASE_URL is not ZIM's API host for this app's region: use the host from the ZEGO console"],
  [ZimCode.APP_NOT_IN_PRODUCTION, 'the app is not configured for the production environment in the ZEGO console'],
  [ZimCode.SERVICE_NOT_ENABLED, 'ZIM is not enabled for this app: enable it in the ZEGO console'],
]);

const isGatewayCode = (code: number) => code >= 100_000_000 && code < 100_001_000;

export class ZimUnreachableError extends Error {
  override name = 'ZimUnreachableError';
}

/** Waits between attempts when ZIM cannot be reached: a 502 or a reset at start-up is no reason to give up. */
const RETRY_DELAYS_MS = [500, 1_000, 2_000, 4_000];

export async function checkZimCredentials(config: ZimConfig, retryDelaysMs = RETRY_DELAYS_MS): Promise<void> {
  const zim = new ZimClient({ baseUrl: config.baseUrl, appId: config.appId, serverSecret: config.serverSecret });
  try {
    for (const delay of [...retryDelaysMs, undefined]) {
      const err = await probe(zim);
      if (err === undefined) return;
      if (err.code >= 0 || delay === undefined) throw explained(err, config);
      await sleep(delay);
    }
  } finally {
    await zim.close();
  }
}

/** undefined when the answer came from past the gateway (whatever its code): the credentials work. */
async function probe(zim: ZimClient): Promise<ZimError | undefined> {
  try {
    await zim.queryUserInfos({ UserIds: [CREDENTIAL_PROBE_USER] });
    return undefined;
  } catch (err) {
    if (!(err instanceof ZimError)) throw err;
    return isGatewayCode(err.code) || err.code < 0 ? err : undefined;
  }
}

function explained(err: ZimError, config: ZimConfig): Error {
  if (isGatewayCode(err.code)) {
    const fix = GATEWAY_FIXES.get(err.code) ?? 'check ZIM_APP_ID, the ServerSecret and ZIM_BASE_URL';
    return new ConfigError(
      `ZIM at ${config.baseUrl} refused this worker's credentials for app ${config.appId}: code ${err.code}` +
        ` (${zimCodeName(err.code) ?? 'gateway'}). Fix: ${fix}. "zim-migrate config" shows where each setting comes from.`
    );
  }
  return new ZimUnreachableError(
    `Cannot reach ZIM at ${config.baseUrl}: ${err.message}. Check ZIM_BASE_URL and this machine's network ` +
      '(proxy, firewall, DNS); start with --skip-zim-check to run anyway (calls are retried until ZIM answers).'
  );
}
