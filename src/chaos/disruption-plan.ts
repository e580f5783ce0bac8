/**
 * When a chaos run kills the worker (or a whole machine), restarts the Temporal server and (staging on PostgreSQL)
 * restarts PostgreSQL, drawn from its seed. Moments are measured in
 * ZIM requests the emulator has seen (a share of the calls the plan expects), not in wall-clock time, so a seed
 * replays the same disruptions at the same points of the migration however loaded the machine is.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/**
 * worker-kill: with several machines, a whole machine (all its processes and its folder); receiver-kill: the
 * coexistence receiver process (chaos --coexist).
 */
export type DisruptionKind = 'worker-kill' | 'server-restart' | 'postgres-restart' | 'receiver-kill';

export interface Disruption {
  kind: DisruptionKind;
  /** Due once the emulator has seen this many requests... */
  atRequests: number;
  /** ...and then this much later (lands the blow mid-call rather than at a request boundary). */
  delayMs: number;
  /** server-restart and postgres-restart: how long the server stays down. */
  downMs: number;
}

export interface DisruptionPlanInput {
  seed: number;
  workerKills: number;
  serverRestarts: number;
  /** PostgreSQL killed (SIGKILL) and started again on its cluster; 0 when absent. */
  postgresRestarts?: number;
  /** The coexistence receiver SIGKILLed and started again; 0 when absent. */
  receiverKills?: number;
  /** ZIM calls the migration plan expects (faults and reconciliation add some). */
  expectedRequests: number;
}

/** Disruptions fall between these shares of the expected requests: the first stages and verify stay reachable. */
const FIRST_AT = 0.04;
const LAST_AT = 0.8;

export function planDisruptions(input: DisruptionPlanInput): Disruption[] {
  // A stream of its own (seed offset), so the dataset and the faults, drawn from the same seed, stay independent.
  const rng = xoroshiro128plus(input.seed ^ 0x5eed_c4a0);
  const draw = () => uniformFloat64(rng);
  const one = (kind: DisruptionKind): Disruption => ({
    kind,
    atRequests: Math.round(input.expectedRequests * (FIRST_AT + draw() * (LAST_AT - FIRST_AT))),
    delayMs: Math.round(draw() * 1_500),
    downMs: kind === 'server-restart' || kind === 'postgres-restart' ? Math.round(500 + draw() * 2_500) : 0,
  });
  const plan = [
    ...Array.from({ length: input.workerKills }, () => one('worker-kill')),
    ...Array.from({ length: input.serverRestarts }, () => one('server-restart')),
    // Drawn after the others, so a seed without PostgreSQL restarts keeps the plan it always had.
    ...Array.from({ length: input.postgresRestarts ?? 0 }, () => one('postgres-restart')),
    ...Array.from({ length: input.receiverKills ?? 0 }, () => one('receiver-kill')),
  ];
  return plan.sort((a, b) => a.atRequests - b.atRequests);
}
