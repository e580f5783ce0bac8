/**
 * A catch-up round (issue #13): runs the round's steps in dependency order (src/shared/rounds.ts). Op steps keep a
 * window of page activities in flight (one ZIM call each, through the ledger's batch protocol); new groups, new
 * messages and verify run as the migration's own stage workflows under the round's id, restricted to the round's
 * items (verify reads the whole final state). Answers the `progress` query as a migration does, follows
 * pause/resume/cancel (forwarded to the stage children and the call gate), and continues as new between pages when
 * its history grows large.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MigrationActivities, MigrationRef, Outcome } from '../activities/contract';
import type { FanoutStage, RoundWork, StageWork } from '../src/staging/migration-store';
import {
  ROUND_OP_ACTION,
  ROUND_OPS,
  ROUND_STEPS,
  roundMigrationId,
  type RoundOp,
  type RoundStep,
} from '../src/shared/rounds';
import type { Stage } from '../src/shared/stages';
import { ZIM_MIGRATION_ID, ZIM_MIGRATION_STAGE, ZIM_MIGRATION_STATUS } from '../src/shared/search-attributes';
import { renderProgressMarkdown, stageSummary } from '../src/shared/ui-metadata';
import {
  addCounts,
  cancelSignal,
  emptyCounts,
  pauseSignal,
  progressQuery,
  resumeSignal,
  stageReportSignal,
  workflowIds,
  type Counts,
  type MigrationProgress,
  type MigrationStatus,
  type StageProgress,
} from '../src/shared/workflow-api';
import { LOCAL_ACTIVITY_OPTIONS, ZIM_CALL_ACTIVITY_OPTIONS } from './activity-options';
import { catchUpChild, Control, type ControlState } from './control';
import { stageWorkflow, type StageTuning } from './stage';
import { keepBudgets } from './budgets';
import { defaultPageWindow } from './page-window';
import { defaultBudget } from '../src/zim-client/limits';

export interface RoundInput extends MigrationRef {
  round: number;
  tuning?: StageTuning;
  /** Budgets (calls/s) per ZIM Action that differ from ZIM's defaults (catch-up --budget); applied at start. */
  budgets?: Record<string, number>;
  carried?: RoundCarried;
}

type StepName = RoundStep;

interface StepState extends Counts {
  status: 'pending' | 'running' | 'done' | 'cancelled';
  startedAt?: number;
  finishedAt?: number;
}

interface RoundCarried {
  startedAt: number;
  work: RoundWork;
  verify: StageWork;
  control: ControlState;
  steps: Partial<Record<StepName, StepState>>;
  /** The op under way and its next page. */
  nextPage: number;
  /** Budgets set at start or by `zim-migrate budget` (absent in rounds carried over by an older version). */
  budgets?: Record<string, number>;
  /** The chain's tag in its stage children's ids (absent in chains an older version started: its short form). */
  ownerTag?: string;
}

export interface RoundResult {
  migrationId: string;
  round: number;
  status: 'completed' | 'cancelled';
  stages: StageProgress[];
}

const zimActs = proxyActivities<MigrationActivities>(ZIM_CALL_ACTIVITY_OPTIONS);
const localActs = proxyActivities<MigrationActivities>(LOCAL_ACTIVITY_OPTIONS);

const STEP_ORDER = ROUND_STEPS;
const ALL_STEPS: StepName[] = STEP_ORDER.flat();

export async function roundWorkflow(input: RoundInput): Promise<RoundResult> {
  const id = roundMigrationId(input.migrationId, input.round);
  const ref: MigrationRef = { migrationId: id, stagingPath: input.stagingPath };
  /** Budgets as the migration keeps them (workflows/budgets.ts): the same update, the same call schedule. */
  const budgets: Record<string, number> = input.carried?.budgets ?? {};
  const control = new Control(input.carried?.control ?? { paused: false, cancelled: false }, (event, args) => {
    const signal = event === 'pause' ? pauseSignal : event === 'resume' ? resumeSignal : cancelSignal;
    for (const s of runningStages())
      getExternalWorkflowHandle(workflowIds.stage(stageOwner(), s as Stage))
        .signal(signal, args)
        .catch((err: unknown) => log.warn('could not forward control signal', { s, event, err }));
    showProgress();
  });
  let c: RoundCarried | undefined = input.carried;
  /**
   * Whose ids the stage children carry: this execution chain's, so a round started again after a cancel or a
   * termination runs its stages afresh. The whole first run id: its first 8 digits, used before, are the start
   * time's high bits in Temporal's time-ordered run ids, the same for two starts within about a minute, and the
   * resumed round then took the cancelled run's stages for its own (done, with nothing counted or set up). Chains
   * started with the short form keep it (replayed, or carried over continue-as-new).
   */
  const firstRunId = workflowInfo().firstExecutionRunId;
  const ownerTag =
    input.carried !== undefined
      ? (input.carried.ownerTag ?? firstRunId.slice(0, 8))
      : patched('round-stage-owner-whole-run-id')
        ? firstRunId
        : firstRunId.slice(0, 8);
  const stageOwner = () => `${id}.${ownerTag}`;
  const runningStages = () =>
    (['groups', 'peer-messages', 'group-messages', 'verify'] as const).filter((s) => c?.steps[s]?.status === 'running');

  setHandler(stageReportSignal, (report) => {
    const step = c?.steps[report.stage as StepName];
    if (!step || step.status !== 'running') return;
    // A stage child of the cancelled run this one resumes, finishing late: not this run's step (it would be taken
    // for done with that child's counts while this run's own child still works).
    if (report.from !== undefined && report.from !== workflowIds.stage(stageOwner(), report.stage)) return;
    Object.assign(step, report.counts);
    if (report.finished) {
      step.status = report.finished;
      step.finishedAt = Date.now();
    }
    showProgress();
  });

  const plannedOf = (s: StepName): number => {
    if (!c) return 0;
    if (s === 'verify') return c.verify.planned;
    if (s === 'groups' || s === 'peer-messages' || s === 'group-messages') return c.work.fanout[s].planned;
    return c.work.ops.find((o) => o.op === s)?.items ?? 0;
  };
  const statusNow = (): MigrationStatus =>
    control.state.cancelled
      ? runningStages().length
        ? 'cancelling'
        : 'cancelled'
      : c && ALL_STEPS.every((s) => c!.steps[s]?.status === 'done')
        ? 'completed'
        : control.state.paused
          ? 'paused'
          : 'running';
  const progress = (): MigrationProgress => {
    const now = Date.now();
    const startedAt = c?.startedAt ?? now;
    return {
      migrationId: id,
      status: statusNow(),
      ...(control.state.pausedReason !== undefined && { pausedReason: control.state.pausedReason }),
      startedAt,
      elapsedSeconds: (now - startedAt) / 1000,
      // Round steps are shown where a migration shows its stages (status, the Temporal UI's details).
      stages: ALL_STEPS.map((s): StageProgress => {
        const st = c?.steps[s];
        return {
          stage: s as Stage,
          status: st?.status === 'running' && control.state.paused ? 'paused' : (st?.status ?? 'pending'),
          planned: plannedOf(s),
          done: st?.done ?? 0,
          failed: st?.failed ?? 0,
          skipped: st?.skipped ?? 0,
          calls: st?.calls ?? 0,
          ...(st?.startedAt !== undefined && { startedAt: st.startedAt }),
          ...(st?.finishedAt !== undefined && { finishedAt: st.finishedAt }),
          ...(s in ROUND_OP_ACTION && {
            action: ROUND_OP_ACTION[s as RoundOp].action,
            budget:
              budgets[ROUND_OP_ACTION[s as RoundOp].action] ?? defaultBudget(ROUND_OP_ACTION[s as RoundOp].action).rate,
          }),
        };
      }),
    };
  };
  setHandler(progressQuery, progress);
  let lastStatus: MigrationStatus | undefined;
  let lastLabel = '';
  function showProgress(): void {
    const p = progress();
    setCurrentDetails(`**Catch-up round ${input.round} of ${input.migrationId}**\n\n${renderProgressMarkdown(p)}`);
    if (p.status !== lastStatus) {
      upsertSearchAttributes([{ key: ZIM_MIGRATION_STATUS, value: p.status }]);
      lastStatus = p.status;
    }
    const running = ALL_STEPS.filter((s) => c?.steps[s]?.status === 'running');
    const label = `round-${input.round}:${running.length ? running.join(',') : p.status}`;
    if (label !== lastLabel) {
      upsertSearchAttributes([{ key: ZIM_MIGRATION_STAGE, value: label }]);
      lastLabel = label;
    }
  }

  const budgetKeeper = keepBudgets({
    budgets,
    continued: input.carried !== undefined,
    apply: (change) => localActs.applyBudget(change),
    onChange: () => showProgress(),
  });
  if (!c) {
    const loaded = await localActs.loadRound({ ...ref, round: input.round });
    c = { startedAt: Date.now(), ...loaded, control: control.state, steps: {}, nextPage: 0, budgets };
  }
  c.budgets = budgets;
  c.ownerTag = ownerTag;
  upsertSearchAttributes([{ key: ZIM_MIGRATION_ID, value: input.migrationId }]);
  await budgetKeeper.applyStart(input.budgets);
  showProgress();

  // The call gate follows pause and cancel, as in the migration (activities/call-gate.ts).
  let gateOpen: boolean | undefined;
  const gateWanted = () => !control.state.paused && !control.state.cancelled;
  void (async () => {
    for (;;) {
      await condition(() => gateOpen !== gateWanted());
      const open = gateWanted();
      await localActs.setCallGate({ ...ref, open });
      gateOpen = open;
    }
  })();

  const carried = c;
  const startStep = (s: StepName) => {
    carried.steps[s] ??= { status: 'running', startedAt: Date.now(), ...emptyCounts(plannedOf(s)) };
    showProgress();
    return carried.steps[s];
  };
  const finishStep = (s: StepName) => {
    const st = carried.steps[s]!;
    st.status = control.state.cancelled ? 'cancelled' : 'done';
    st.finishedAt = Date.now();
    showProgress();
  };

  const runOp = async (op: RoundOp) => {
    const st = startStep(op);
    const pages = carried.work.ops.find((o) => o.op === op)?.pages ?? 0;
    const window = input.tuning?.pageWindow ?? defaultPageWindow();
    let running = 0;
    const failures: unknown[] = [];
    while (carried.nextPage < pages && !control.state.cancelled && failures.length === 0) {
      if (workflowInfo().continueAsNewSuggested) {
        await condition(() => running === 0);
        if (failures.length) break;
        await condition(allHandlersFinished);
        await continueAsNew<typeof roundWorkflow>({ ...input, carried });
      }
      await control.mayProceed(() => running < window);
      if (control.state.cancelled) break;
      const page = carried.nextPage++;
      running++;
      zimActs
        .runRoundPage({ ...ref, round: input.round, op, page })
        .then((o: Outcome) => {
          addCounts(st, o);
          showProgress();
        })
        .catch((err: unknown) => failures.push(err))
        .finally(() => running--);
    }
    await condition(() => running === 0);
    if (failures.length) throw failures[0];
    carried.nextPage = 0;
    finishStep(op);
  };

  // Stage children are this execution chain's own (continue-as-new keeps the tag): a round started again after a
  // cancel or a termination runs its stages afresh (the ledger skips what landed) instead of taking a stage that
  // completed cancelled for done.
  const childRef: MigrationRef = { ...ref, migrationId: stageOwner() };
  const runStage = async (stage: FanoutStage | 'verify') => {
    const st = startStep(stage);
    const sent = { ...control.state };
    const childId = workflowIds.stage(childRef.migrationId, stage);
    try {
      await startChild(stageWorkflow, {
        workflowId: childId,
        args: [
          {
            ...childRef,
            stage,
            parentWorkflowId: workflowInfo().workflowId,
            planned: st.planned,
            pages: stage === 'verify' ? carried.verify.pages : 0,
            tuning: input.tuning,
            control: sent,
            ...(stage !== 'verify' && { round: input.round }),
          },
        ],
        parentClosePolicy: 'ABANDON',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        staticSummary: stageSummary(id, stage),
        typedSearchAttributes: [
          { key: ZIM_MIGRATION_ID, value: input.migrationId },
          { key: ZIM_MIGRATION_STAGE, value: `round-${input.round}:${stage}` },
        ],
      });
      await catchUpChild(childId, sent, control.state);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Started by this chain already: a running one reports here when it finishes; a completed one is done.
      if ((await localActs.describeWorkflow({ workflowId: childId })) !== 'running') {
        st.status = 'done';
        st.finishedAt = Date.now();
      }
    }
    await condition(() => st.status !== 'running');
  };

  for (const entry of STEP_ORDER) {
    if (control.state.cancelled) break;
    const names: readonly StepName[] = typeof entry === 'string' ? [entry] : entry;
    if (names.every((s) => carried.steps[s]?.status === 'done')) continue;
    await control.mayProceed();
    if (control.state.cancelled) break;
    await Promise.all(
      names.map((s) =>
        carried.steps[s]?.status === 'done'
          ? Promise.resolve()
          : (ROUND_OPS as readonly string[]).includes(s)
            ? runOp(s as RoundOp)
            : runStage(s as FanoutStage | 'verify')
      )
    );
  }

  const cancelled = control.state.cancelled;
  await localActs.finishRound({ ...ref, round: input.round, state: cancelled ? 'cancelled' : 'done' });
  showProgress();
  await condition(allHandlersFinished);
  return {
    migrationId: input.migrationId,
    round: input.round,
    status: cancelled ? 'cancelled' : 'completed',
    stages: progress().stages,
  };
}
