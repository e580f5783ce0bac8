/**
 * The emulated ZIM app without its HTTP transport: configuration, state, rate limits, counters, and the path of one
 * API call (gateway checks → per-app rate limit → injected refusals → request validation → Action handler).
 */
import type { ParsedUrlQuery } from 'node:querystring';
import { ZIM_ACTIONS, type ZimAction } from '../zim-client/actions';
import { ZimCode } from '../zim-client/codes';
import { ZIM_RATE_LIMITS } from '../zim-client/limits';
import { NUMERIC_QUERY_PARAMS, ZIM_REQUEST_SCHEMAS } from '../zim-client/requests';
import type { CallbackPayload } from '../zim-callbacks/events';
import type { CallbackSwitches } from './callback-config';
import { CallbackDispatcher } from './callback-dispatcher';
import type { EmulatorOptionsSchema } from './config';
import {
  appRateLimit,
  applyConfigPatch,
  ConfigPatchSchema,
  describeIssues,
  groupRateLimit,
  resolveConfig,
  type ConfigPatch,
  type RuntimeConfig,
} from './config';
import { Counters } from './counters';
import { FaultInjector, type FaultDecision } from './faults';
import { authenticate } from './gateway';
import { HANDLERS, type HandlerContext } from './handlers';
import { SlidingWindowLimiter } from './rate-limiter';
import { refuse, Refusal, type Reply } from './rules';
import { SdkUsers } from './sdk-user';
import { EmulatorState } from './state';

/** Everything about the configuration that may be shown: never the secret. */
export interface PublicConfig {
  appId: number;
  plan: RuntimeConfig['plan'];
  limits: RuntimeConfig['limits'];
  rateLimits: RuntimeConfig['rateLimits'];
  behaviour: RuntimeConfig['behaviour'];
}

export class EmulatorCore {
  readonly appId: number;
  readonly #serverSecret: string;
  readonly clock: () => number;
  readonly counters = new Counters();
  readonly faults: FaultInjector;
  /** Callbacks to the app's backend, fired by successful calls and by SDK users (sdk-user.ts). */
  readonly callbacks: CallbackDispatcher;
  /** App 2.0 users acting through the SDK (introspection: POST /_emulator/sdk/...). */
  readonly sdk = new SdkUsers(this);
  readonly #limiter = new SlidingWindowLimiter();
  #config: RuntimeConfig;
  #state = new EmulatorState();

  constructor(options: ReturnType<typeof EmulatorOptionsSchema.parse>) {
    this.appId = options.appId;
    this.#serverSecret = options.serverSecret;
    this.clock = options.clock ?? Date.now;
    this.#config = resolveConfig(options.plan, options.limits, options.rateLimits, options.behaviour);
    this.faults = new FaultInjector(options.faults);
    this.callbacks = new CallbackDispatcher(options.callbacks, {
      appId: options.appId,
      serverSecret: options.serverSecret,
      clock: this.clock,
      counters: this.counters,
    });
  }

  get state(): EmulatorState {
    return this.#state;
  }
  get config(): RuntimeConfig {
    return this.#config;
  }

  publicConfig(): PublicConfig {
    const { plan, limits, rateLimits, behaviour } = this.#config;
    return { appId: this.appId, plan, limits, rateLimits, behaviour };
  }

  /** Changes plan, limits, rate limits or behaviour at runtime; unspecified settings stay. */
  configure(patch: ConfigPatch): PublicConfig {
    const parsed = ConfigPatchSchema.safeParse(patch);
    if (!parsed.success) throw new TypeError(`Invalid emulator configuration: ${describeIssues(parsed.error)}`);
    this.#config = applyConfigPatch(this.#config, parsed.data);
    this.#limiter.reset();
    return this.publicConfig();
  }

  reset(what: { state?: boolean; counters?: boolean } = {}): void {
    if (what.state ?? true) {
      this.#state = new EmulatorState();
      this.#limiter.reset();
    }
    if (what.counters ?? true) this.counters.reset();
  }

  /** One API call, answered with a Reply (never throws). */
  execute(action: ZimAction, method: string, query: ParsedUrlQuery, body: string, fault?: FaultDecision): Reply {
    let reply: Reply;
    try {
      reply = this.#run(action, method, query, body, fault);
    } catch (err) {
      if (!(err instanceof Refusal)) {
        this.counters.internalError();
        console.error(`zim-emulator: ${action} crashed:`, err);
        reply = { code: ZimCode.GATEWAY_INTERNAL, message: 'emulator internal error' };
      } else reply = { code: err.code, message: err.zimMessage };
    }
    this.counters.answer(action, reply.code, itemCodes(action, reply));
    return reply;
  }

  #run(action: ZimAction, method: string, query: ParsedUrlQuery, body: string, fault?: FaultDecision): Reply {
    const config = this.#config;
    const now = this.clock();
    const denied = authenticate(
      query,
      {
        appId: this.appId,
        serverSecret: this.#serverSecret,
        toleranceSeconds: config.behaviour.timestampToleranceSeconds,
      },
      now
    );
    if (denied) throw denied;
    const spec = ZIM_ACTIONS[action];
    if (method !== spec.method) refuse(ZimCode.PARAM_INVALID, `${action} must be called with ${spec.method}`);

    const rate = appRateLimit(config, action);
    if (rate && !this.#limiter.tryAcquire(action, rate.perSecond, now)) {
      refuse(rate.code, 'call frequency exceeds the limit');
    }
    if (fault?.tooFrequent) {
      this.counters.fault('tooFrequent');
      refuse(config.rateLimits.codes[action] ?? ZIM_RATE_LIMITS[action].code, 'call frequency exceeds the limit');
    }
    if (fault?.serverBusy) {
      this.counters.fault('serverBusy');
      refuse(ZimCode.SERVER_BUSY, 'server busy, retry later');
    }

    const parsed = ZIM_REQUEST_SCHEMAS[action].safeParse(spec.method === 'GET' ? queryParams(query) : jsonBody(body));
    if (!parsed.success) refuse(ZimCode.PARAM_INVALID, `input parameter error: ${describeIssues(parsed.error)}`);

    const ctx = new CallContext(this.#state, config, now, action, this.#limiter, this.callbacks.config.switches);
    const reply = (HANDLERS[action] as (c: HandlerContext, r: unknown) => Reply)(ctx, parsed.data);
    if (reply.code === ZimCode.SUCCESS && ctx.events) {
      const hold = this.callbacks.emit(ctx.events);
      if (hold) return { ...reply, hold };
    }
    return reply;
  }

  /** A context for an action taken outside the API (an SDK user's, from the introspection API). */
  sdkContext(switches: Partial<CallbackSwitches> = {}): CallContext {
    // No Action: SDK users are not held to the server API's rate limits.
    const { callbacks } = this;
    return new CallContext(this.#state, this.#config, this.clock(), undefined, this.#limiter, {
      ...callbacks.config.switches,
      ...switches,
    });
  }
}

/** One call's view of the app. A class, not an object literal with a closure: this is on every call's path. */
export class CallContext implements HandlerContext {
  /** Callbacks this call fires, created on the first one (most calls fire none). */
  events: CallbackPayload[] | undefined;

  constructor(
    readonly state: EmulatorState,
    readonly config: RuntimeConfig,
    readonly now: number,
    private readonly action: ZimAction | undefined,
    private readonly limiter: SlidingWindowLimiter,
    readonly callbackSwitches: CallbackSwitches
  ) {}

  emit(payload: CallbackPayload): void {
    (this.events ??= []).push(payload);
  }

  checkGroupRate(groupId: string): void {
    const limit = this.action && groupRateLimit(this.config, this.action);
    if (limit && !this.limiter.tryAcquire(`${this.action}\0${groupId}`, limit.perSecond, this.now)) {
      refuse(limit.code, 'call frequency exceeds the group limit');
    }
  }
}

const GATEWAY_PARAMS = new Set(['Action', 'AppId', 'SignatureNonce', 'Timestamp', 'SignatureVersion', 'Signature']);

/** Business parameters of a GET call: numbers where numbers are expected, `Name[]` arrays as `Name`. */
function queryParams(query: ParsedUrlQuery): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(query)) {
    if (GATEWAY_PARAMS.has(rawKey) || value === undefined) continue;
    const isArray = rawKey.endsWith('[]');
    const key = isArray ? rawKey.slice(0, -2) : rawKey;
    if (isArray) params[key] = Array.isArray(value) ? value : [value];
    else {
      const v = Array.isArray(value) ? value[0]! : value;
      params[key] = NUMERIC_QUERY_PARAMS.has(key) && /^-?\d+$/.test(v) ? Number(v) : v;
    }
  }
  return params;
}

function jsonBody(body: string): unknown {
  if (body.trim() === '') return {};
  try {
    return JSON.parse(body) as unknown;
  } catch {
    refuse(ZimCode.PARAM_INVALID, 'body is not valid JSON');
  }
}

function itemCodes(action: ZimAction, reply: Reply): number[] {
  const field = (ZIM_ACTIONS[action] as { failureList?: string }).failureList;
  const list = field ? reply.fields?.[field] : undefined;
  return Array.isArray(list) ? list.map((f) => (f as { SubCode: number }).SubCode) : [];
}
