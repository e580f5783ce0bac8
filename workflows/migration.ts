/**
 * The migration: walks the stage graph (src/shared/stages.ts), running every stage whose dependencies are done at
 * the same time, each as a child workflow. Answers the `progress` query, takes pause/resume/cancel signals and
 * forwards them down the tree, pauses itself when the error budget is spent, and continues as new when its history
 * (mostly progress reports) grows large.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MigrationActivities, MigrationRef, StagePlan } from '../activities/contract';
import { MIGRATION_ACTIONS, readyStages, STAGE_ACTION, STAGES, type Stage } from '../src/shared/stages';
import { addSample, callsPerSecond, criticalPathSeconds, type RateSample } from '../src/shared/eta';
import { defaultBudget } from '../src/rate-limit/default-budgets';
import { ZIM_MIGRATION_ID, ZIM_MIGRATION_STAGE } from '../src/shared/search-attributes';
import { renderProgressMarkdown, stageSummary } from '../src/shared/ui-metadata';
import {
  cancelSignal,
  emptyCounts,
  pauseSignal,
  progressQuery,
  resumeSignal,
  setBudgetUpdate,
  stageReportSignal,
  workflowIds,
  type BudgetChange,
  type Counts,
  type MigrationProgress,
  type StageProgress,
} from '../src/shared/workflow-api';
import { LOCAL_ACTIVITY_OPTIONS } from './activity-options';
import { catchUpChild, Control, type ControlState } from './control';
import { stageWorkflow, type StageTuning } from './stage';

export interface MigrationInput extends MigrationRef {
  /** Run only these stages (dependencies outside the selection count as met). Default: all. */
  stages?: Stage[];
  /** One stage at a time, in graph order, instead of every ready stage at once. */
  sequential?: boolean;
  /**
   * Pause with a reason once failed / (done + failed) exceeds this fraction, after at least `errorBudgetMinRecords`
   * records. Default 0.01 (1%). Resuming goes on; the budget trips again only after the failure count has grown by
   * another `errorBudgetMinRecords`.
   */
  errorBudget?: number;
  errorBudgetMinRecords?: number;
  /** Budgets (calls/s) per ZIM Action that differ from ZIM's defaults; applied to the call schedule at start. */
  budgets?: Record<string, number>;
  tuning?: StageTuning;
  /** Carried across continue-as-new. */
  carried?: MigrationCarried;
}

export interface MigrationCarried {
  startedAt: number;
  plan: Record<Stage, StagePlan>;
  stages: Partial<Record<Stage, StageProgress>>;
  control: ControlState;
  failuresAtLastBudgetTrip: number;
  budgets: Record<string, number>;
  /** What the call gate in staging was last set to; unknown at a migration's start (staging may be reused). */
  callGateOpen?: boolean;
}

export interface MigrationResult {
  migrationId: string;
  status: 'completed' | 'cancelled';
  stages: StageProgress[];
}

const localActs = proxyActivities<MigrationActivities>(LOCAL_ACTIVITY_OPTIONS);

export async function migrationWorkflow(input: MigrationInput): Promise<MigrationResult> {
  const selected = STAGES.filter((s) => !input.stages || input.stages.includes(s));
  const ref: MigrationRef = { migrationId: input.migrationId, stagingPath: input.stagingPath };
  const c: MigrationCarried = input.carried ?? {
    startedAt: Date.now(),
    plan: await localActs.loadPlan(ref),
    stages: {},
    control: { paused: false, cancelled: false },
    failuresAtLastBudgetTrip: 0,
    budgets: {},
  };
  if (!input.carried) {
    for (const [action, rate] of Object.entries(input.budgets ?? {})) {
      await localActs.applyBudget({ action, rate });
      c.budgets[action] = rate;
    }
  }
  const budgetOf = (action: string) => c.budgets[action] ?? defaultBudget(action).rate;
  // Rates come from the stages' periodic reports; they are not carried across continue-as-new (they refill fast).
  const samples: Partial<Record<Stage, RateSample[]>> = {};

  const runningStageIds = () =>
    selected.filter((s) => c.stages[s]?.status === 'running').map((s) => workflowIds.stage(input.migrationId, s));
  const forward = (event: 'pause' | 'resume' | 'cancel', reason?: string) => {
    const signal = event === 'pause' ? pauseSignal : event === 'resume' ? resumeSignal : cancelSignal;
    for (const id of runningStageIds()) {
      getExternalWorkflowHandle(id)
        .signal(signal, { reason })
        .catch((err: unknown) => log.warn('could not forward control signal', { id, event, err }));
    }
  };
  // Set once progress() exists, below; signals buffered before their handlers run (dispatched synchronously by
  // setHandler) change state only, and the first call after the assignment shows it.
  let showProgress = (): void => undefined;
  const control = new Control(c.control, (event, args) => {
    forward(event, args.reason);
    showProgress();
  });

  // The call gate follows pause and cancel (activities/call-gate.ts), one write at a time so that a quick pause and
  // resume can never land out of order.
  const gateWanted = () => !c.control.paused && !c.control.cancelled;
  const syncCallGate = async () => {
    for (;;) {
      await condition(() => c.callGateOpen !== gateWanted());
      const open = gateWanted();
      await localActs.setCallGate({ ...ref, open });
      c.callGateOpen = open;
    }
  };
  void syncCallGate();

  setHandler(stageReportSignal, (report) => {
    const stage = c.stages[report.stage];
    if (!stage || stage.status !== 'running') return;
    // Most reports of a busy stage change only its call count, which the UI table does not show.
    const changed = report.finished !== undefined || countsDiffer(stage, report.counts);
    Object.assign(stage, report.counts);
    addSample((samples[report.stage] ??= []), { at: Date.now(), calls: report.counts.calls });
    if (report.finished) {
      stage.status = report.finished;
      stage.finishedAt = Date.now();
    }
    if (changed) showProgress();
  });

  setHandler(
    setBudgetUpdate,
    async ({ action, rate }) => {
      await localActs.applyBudget({ action, rate });
      c.budgets[action] = rate;
      return { ...c.budgets };
    },
    {
      validator: ({ action, rate }: BudgetChange) => {
        if (!(MIGRATION_ACTIONS as readonly string[]).includes(action))
          throw new Error(`Unknown ZIM Action "${action}"; one of: ${MIGRATION_ACTIONS.join(', ')}`);
        if (!(rate > 0 && rate <= 10_000)) throw new Error(`A budget is calls per second in (0, 10000]; got ${rate}`);
      },
    }
  );

  const stageView = (s: Stage): StageProgress => {
    const base = c.stages[s] ?? { stage: s, status: 'pending' as const, ...emptyCounts(c.plan[s].planned) };
    const action = STAGE_ACTION[s];
    return { ...base, action, budget: budgetOf(action), callsPerSecond: callsPerSecond(samples[s] ?? []) };
  };

  const progress = (): MigrationProgress => {
    const status = c.control.cancelled
      ? selected.some((s) => c.stages[s]?.status === 'running')
        ? 'cancelling'
        : 'cancelled'
      : c.control.paused
        ? 'paused'
        : selected.every((s) => c.stages[s]?.status === 'done')
          ? 'completed'
          : 'running';
    const stages = selected.map(stageView);
    const etaSeconds = criticalPathSeconds(
      selected,
      Object.fromEntries(
        stages.map((p) => [
          p.stage,
          {
            done: p.status === 'done' || p.status === 'cancelled',
            plannedCalls: c.plan[p.stage].calls,
            calls: p.calls,
            callsPerSecond: p.callsPerSecond,
            budget: p.budget ?? 20,
          },
        ])
      )
    );
    return {
      migrationId: input.migrationId,
      status,
      pausedReason: c.control.pausedReason,
      startedAt: c.startedAt,
      stages,
      etaSeconds: status === 'running' ? Math.round(etaSeconds) : undefined,
    };
  };
  setHandler(progressQuery, progress);
  // The UI's "Current Details": workflow-local state served by a built-in query (no history event). Refreshed
  // only when a stage's counts or status or the pause state change; a new run after continue-as-new starts blank.
  showProgress = () => setCurrentDetails(renderProgressMarkdown(progress()));
  showProgress();

  const errorBudget = input.errorBudget ?? 0.01;
  const minRecords = input.errorBudgetMinRecords ?? 100;
  const checkErrorBudget = () => {
    const totals = selected.reduce(
      (t, s) => ({ done: t.done + (c.stages[s]?.done ?? 0), failed: t.failed + (c.stages[s]?.failed ?? 0) }),
      { done: 0, failed: 0 }
    );
    const attempted = totals.done + totals.failed;
    if (totals.failed - c.failuresAtLastBudgetTrip < minRecords || attempted === 0) return;
    const rate = totals.failed / attempted;
    if (rate > errorBudget && !c.control.paused) {
      c.failuresAtLastBudgetTrip = totals.failed;
      const reason =
        `error budget exceeded: ${totals.failed} of ${attempted} records failed (${(rate * 100).toFixed(2)}% > ` +
        `${(errorBudget * 100).toFixed(2)}%). Read the failures with "zim-migrate report", fix the cause, then resume.`;
      control.pause(reason);
      forward('pause', reason);
      showProgress();
    }
  };

  const stateKey = () =>
    JSON.stringify([selected.map((s) => c.stages[s]?.status), c.control.cancelled, c.control.paused]);

  let lastStageLabel = '';
  upsertSearchAttributes([{ key: ZIM_MIGRATION_ID, value: input.migrationId }]);
  const publishStage = () => {
    const running = selected.filter((s) => c.stages[s]?.status === 'running');
    const label = running.length ? running.join(',') : selected.every((s) => c.stages[s]) ? 'finished' : 'waiting';
    if (label !== lastStageLabel) {
      upsertSearchAttributes([{ key: ZIM_MIGRATION_STAGE, value: label }]);
      lastStageLabel = label;
    }
  };

  for (;;) {
    if (!c.control.cancelled) {
      const status = Object.fromEntries(
        selected.flatMap((s) => {
          const st = c.stages[s]?.status;
          return st === undefined || st === 'pending' ? [] : [[s, st === 'running' ? 'running' : 'done']];
        })
      ) as Partial<Record<Stage, 'running' | 'done'>>;
      for (const stage of readyStages(selected, status, input.sequential ?? false)) {
        await condition(() => !c.control.paused || c.control.cancelled);
        if (c.control.cancelled) break;
        await startStage(input, stage, c);
      }
    }
    publishStage();
    showProgress();
    const allFinished = selected.every((s) => c.stages[s]?.status === 'done' || c.stages[s]?.status === 'cancelled');
    const nothingRunning = !selected.some((s) => c.stages[s]?.status === 'running');
    if (allFinished || (c.control.cancelled && nothingRunning)) break;

    // Wait for a change (never for a state that stays true, which would spin): a stage finishing, a cancel or
    // resume arriving, or the server suggesting continue-as-new. The timeout re-checks the error budget.
    const snapshot = stateKey();
    await condition(() => stateKey() !== snapshot || workflowInfo().continueAsNewSuggested, '1 minute');
    checkErrorBudget();
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof migrationWorkflow>({ ...input, carried: c });
    }
  }

  showProgress();
  await condition(allHandlersFinished);
  return {
    migrationId: input.migrationId,
    status: c.control.cancelled ? 'cancelled' : 'completed',
    stages: selected.map((s) => c.stages[s]!).filter(Boolean),
  };
}

async function startStage(input: MigrationInput, stage: Stage, c: MigrationCarried): Promise<void> {
  const plan = c.plan[stage];
  const sent = { ...c.control };
  c.stages[stage] = { stage, status: 'running', startedAt: Date.now(), ...emptyCounts(plan.planned) };
  try {
    await startChild(stageWorkflow, {
      workflowId: workflowIds.stage(input.migrationId, stage),
      args: [
        {
          migrationId: input.migrationId,
          stagingPath: input.stagingPath,
          stage,
          parentWorkflowId: workflowInfo().workflowId,
          planned: plan.planned,
          pages: plan.pages,
          tuning: input.tuning,
          control: sent,
          carried: undefined,
        },
      ],
      parentClosePolicy: 'ABANDON',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      staticSummary: stageSummary(input.migrationId, stage),
      typedSearchAttributes: [
        { key: ZIM_MIGRATION_ID, value: input.migrationId },
        { key: ZIM_MIGRATION_STAGE, value: stage },
      ],
    });
    await catchUpChild(workflowIds.stage(input.migrationId, stage), sent, c.control);
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    // A stage that already completed under this migration id: its records are in the ledger.
    c.stages[stage] = { ...c.stages[stage], status: 'done', finishedAt: Date.now() };
  }
}

function countsDiffer(a: Counts, b: Counts): boolean {
  return a.planned !== b.planned || a.done !== b.done || a.failed !== b.failed || a.skipped !== b.skipped;
}

export type { Counts };
