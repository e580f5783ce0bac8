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
import type { MigrationActivities, MigrationRef, ProgressSnapshot } from '../activities/contract';
import type { StageWork } from '../src/staging/migration-store';
import { readyStages, STAGE_ACTIONS, STAGES, type Stage } from '../src/shared/stages';
import { liveEtaSeconds, plannedRate, stageSeconds, type StageActionWork } from '../src/shared/eta';
import { defaultBudget } from '../src/zim-client/limits';
import { keepBudgets } from './budgets';
import { ZIM_MIGRATION_ID, ZIM_MIGRATION_STAGE, ZIM_MIGRATION_STATUS } from '../src/shared/search-attributes';
import { renderProgressMarkdown, stageSummary } from '../src/shared/ui-metadata';
import {
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
  type StageStatus,
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
  /** Absent until the first run has read it from staging (handlers are registered before that read). */
  plan?: Record<Stage, StageWork>;
  stages: Partial<Record<Stage, StageProgress>>;
  control: ControlState;
  failuresAtLastBudgetTrip: number;
  budgets: Record<string, number>;
  /** What the call gate in staging was last set to; unknown at a migration's start (staging may be reused). */
  callGateOpen?: boolean;
  /** Time spent paused before the current pause (ms), and when the current pause began. */
  pausedMs?: number;
  pausedSince?: number;
  /** When the migration last resumed: rates measured over a window that reaches back before it are not a pace. */
  resumedAt?: number;
  /** Paused time already spent when each stage started (its own paused time is the difference). */
  pausedAtStageStart?: Partial<Record<Stage, number>>;
  /** The newest reading of the ledger and the call schedule. */
  snapshot?: ProgressSnapshot;
}

export interface MigrationResult {
  migrationId: string;
  status: 'completed' | 'cancelled';
  stages: StageProgress[];
}

// Every activity of the migration workflow is a regular one, the progress reads too: their results are history
// events at fixed places, so commands issued after one (a timer, a forwarded pause) replay in the same order. A
// local activity's result can reach a replaying worker at another point than it reached the live one, and a
// pause that arrived meanwhile then replays in another order (seen as a nondeterminism error under load).
const localActs = proxyActivities<MigrationActivities>(LOCAL_ACTIVITY_OPTIONS);

/** Rates are calls sent over this window (whole seconds): long enough to be steady, short enough to follow a change. */
export const RATE_WINDOW_MS = 30_000;
/** How often live progress is read from the ledger while work runs (about 11 history events a reading), and while a pause has settled. */
const REFRESH_EVERY = '5 seconds';
const REFRESH_PAUSED = '1 minute';

const NO_PLAN: StageWork = { planned: 0, pages: 0, calls: 0, actions: [] };

export async function migrationWorkflow(input: MigrationInput): Promise<MigrationResult> {
  const selected = STAGES.filter((s) => !input.stages || input.stages.includes(s));
  const ref: MigrationRef = { migrationId: input.migrationId, stagingPath: input.stagingPath };
  const c: MigrationCarried = input.carried ?? {
    startedAt: Date.now(),
    stages: {},
    control: { paused: false, cancelled: false },
    failuresAtLastBudgetTrip: 0,
    budgets: {},
  };
  const planOf = (s: Stage) => c.plan?.[s] ?? NO_PLAN;
  const budgetOf = (action: string) => c.budgets[action] ?? defaultBudget(action).rate;
  const pausedTotal = (now: number) => (c.pausedMs ?? 0) + (c.pausedSince !== undefined ? now - c.pausedSince : 0);
  /** Keeps the paused-time account in step with the control state (a signal or the error budget changed it). */
  const notePauseChange = () => {
    const now = Date.now();
    if (c.control.paused && c.pausedSince === undefined) c.pausedSince = now;
    if (!c.control.paused && c.pausedSince !== undefined) {
      c.pausedMs = pausedTotal(now);
      c.pausedSince = undefined;
      c.resumedAt = now;
    }
  };

  // Every handler is registered before the first await, so a query or signal sent right after the start finds it.
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
  // Assigned once progress() exists, below; a signal buffered before its handler was registered is delivered inside
  // setHandler and changes state only, and the next call shows it.
  let showProgress = (): void => undefined;
  const control = new Control(c.control, (event, args) => {
    notePauseChange();
    forward(event, args.reason);
    showProgress();
  });

  setHandler(stageReportSignal, (report) => {
    const stage = c.stages[report.stage];
    if (!stage || stage.status !== 'running') return;
    Object.assign(stage, report.counts);
    if (report.finished) {
      stage.status = report.finished;
      stage.finishedAt = Date.now();
      stage.pausedMs = pausedTotal(stage.finishedAt) - (c.pausedAtStageStart?.[report.stage] ?? 0);
      showProgress();
    }
  });

  const budgetKeeper = keepBudgets({
    budgets: c.budgets,
    continued: input.carried !== undefined,
    apply: (change) => localActs.applyBudget(change),
    onChange: () => showProgress(),
  });

  /** Done, failed and skipped: the ledger's counts when read, else what the stage reported. */
  const countsOf = (s: Stage): Pick<Counts, 'done' | 'failed' | 'skipped'> => {
    const ledger = c.snapshot?.ledger[s];
    if (ledger) return { done: ledger.done, failed: ledger.failed, skipped: ledger.skipped };
    const reported = c.stages[s];
    return { done: reported?.done ?? 0, failed: reported?.failed ?? 0, skipped: reported?.skipped ?? 0 };
  };
  /** Calls per second sent for `action` over the last rate window, when the ledger was read. */
  const sentRate = (action: string) =>
    c.snapshot ? (c.snapshot.sent[action] ?? 0) / (c.snapshot.windowMs / 1000) : undefined;
  /** The Action a stage shows: of its app-wide budgets, the one closest to full (its first when none is busy). */
  const shownAction = (s: Stage) => {
    const use = (a: string) => (sentRate(a) ?? 0) / budgetOf(a);
    const appWide: string[] = STAGE_ACTIONS[s].filter((a) => !defaultBudget(a).perKey);
    return appWide.reduce((best, a) => (use(a) > use(best) ? a : best));
  };
  /** Whether the last reading's rate window lies wholly after a stage's start and the last resume. */
  const windowCovers = (s: Stage) => {
    const since = Math.max(c.stages[s]?.startedAt ?? Infinity, c.resumedAt ?? 0);
    return c.snapshot !== undefined && c.snapshot.at - c.snapshot.windowMs - 1_000 >= since;
  };

  const stageView = (s: Stage, migrationPaused: boolean): StageProgress => {
    const reported = c.stages[s];
    const now = Date.now();
    const status: StageStatus =
      reported?.status === 'running' && migrationPaused ? 'paused' : (reported?.status ?? 'pending');
    const view: StageProgress = {
      stage: s,
      status,
      planned: planOf(s).planned,
      ...countsOf(s),
      calls: reported?.calls ?? 0,
      ...(reported?.startedAt !== undefined && { startedAt: reported.startedAt }),
      ...(reported?.finishedAt !== undefined && { finishedAt: reported.finishedAt }),
    };
    if (reported?.startedAt !== undefined) {
      const pausedMs = reported.pausedMs ?? pausedTotal(now) - (c.pausedAtStageStart?.[s] ?? pausedTotal(now));
      view.pausedMs = pausedMs;
      view.activeSeconds = Math.max(0, ((reported.finishedAt ?? now) - reported.startedAt - pausedMs) / 1000);
    }
    const action = shownAction(s);
    view.action = action;
    view.budget = budgetOf(action);
    if (status === 'running' || status === 'paused') view.callsPerSecond = sentRate(action);
    return view;
  };

  const statusNow = (): MigrationStatus =>
    c.control.cancelled
      ? selected.some((s) => c.stages[s]?.status === 'running')
        ? 'cancelling'
        : 'cancelled'
      : selected.every((s) => c.stages[s]?.status === 'done')
        ? 'completed'
        : c.control.paused
          ? 'paused'
          : 'running';

  const progress = (): MigrationProgress => {
    const status = statusNow();
    const stages = selected.map((s) => stageView(s, status === 'paused'));
    const etaSeconds = liveEtaSeconds(
      selected,
      Object.fromEntries(
        stages.map((p) => {
          const work = planOf(p.stage);
          const main = bottleneckAction(work.actions, budgetOf);
          const rate = main !== undefined && windowCovers(p.stage) ? sentRate(main) : undefined;
          const seconds = stageSeconds(work.actions, budgetOf, (work.stepMs ?? 0) / 1000);
          const expected = main !== undefined ? plannedRate(work.actions, main, seconds) : undefined;
          return [
            p.stage,
            {
              finished: p.status === 'done' || p.status === 'cancelled',
              settled: p.done + p.failed + p.skipped,
              planned: p.planned,
              seconds,
              ...(rate !== undefined && expected !== undefined && { pace: rate / expected }),
            },
          ];
        })
      )
    );
    const now = Date.now();
    return {
      migrationId: input.migrationId,
      status,
      pausedReason: c.control.pausedReason,
      startedAt: c.startedAt,
      elapsedSeconds: (now - c.startedAt) / 1000,
      pausedSeconds: pausedTotal(now) / 1000,
      ...(c.snapshot && { asOf: c.snapshot.at, rateWindowSeconds: c.snapshot.windowMs / 1000 }),
      stages,
      // As of the last reading of the ledger (`asOf`); readers subtract the time since (etaNow).
      etaSeconds: status === 'running' && c.snapshot ? Math.round(etaSeconds) : undefined,
    };
  };
  setHandler(progressQuery, progress);

  // The UI's "Current Details" (workflow-local state served by a built-in query: no history event) and the status
  // search attribute, which lets an operator list paused migrations.
  let lastStatus: MigrationStatus | undefined;
  showProgress = () => {
    const p = progress();
    setCurrentDetails(renderProgressMarkdown(p));
    if (p.status !== lastStatus) {
      upsertSearchAttributes([{ key: ZIM_MIGRATION_STATUS, value: p.status }]);
      lastStatus = p.status;
    }
  };

  c.plan ??= await localActs.loadPlan(ref);
  await budgetKeeper.applyStart(input.budgets);
  upsertSearchAttributes([{ key: ZIM_MIGRATION_ID, value: input.migrationId }]);
  showProgress();

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

  const errorBudget = input.errorBudget ?? 0.01;
  const minRecords = input.errorBudgetMinRecords ?? 100;
  const checkErrorBudget = () => {
    const totals = selected.reduce(
      (t, s) => {
        const n = countsOf(s);
        return { done: t.done + n.done, failed: t.failed + n.failed };
      },
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
      notePauseChange();
      forward('pause', reason);
      showProgress();
    }
  };

  const stateKey = () =>
    JSON.stringify([selected.map((s) => c.stages[s]?.status), c.control.cancelled, c.control.paused]);

  // Live progress from the ledger and the call schedule: every 5 s while work runs, at once when a stage or the
  // pause state changes; once a pause has settled (the calls in flight landed), every minute, so that a long pause
  // adds little history.
  let ending = false;
  const refreshProgress = async () => {
    while (!ending) {
      const before = c.snapshot;
      const read = await localActs.readProgress({ ...ref, windowMs: RATE_WINDOW_MS });
      c.snapshot = read;
      showProgress();
      checkErrorBudget();
      const settled = c.control.paused && JSON.stringify(before?.ledger) === JSON.stringify(read.ledger);
      const key = stateKey();
      await condition(() => ending || stateKey() !== key, settled ? REFRESH_PAUSED : REFRESH_EVERY);
    }
  };
  void refreshProgress();

  let lastStageLabel = '';
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
        (c.pausedAtStageStart ??= {})[stage] = pausedTotal(Date.now());
        await startStage(input, stage, c);
      }
    }
    publishStage();
    showProgress();
    const allFinished = selected.every((s) => c.stages[s]?.status === 'done' || c.stages[s]?.status === 'cancelled');
    const nothingRunning = !selected.some((s) => c.stages[s]?.status === 'running');
    if (allFinished || (c.control.cancelled && nothingRunning)) break;

    // Wait for a change (never for a state that stays true, which would spin): a stage finishing, a cancel or
    // resume arriving, or the server suggesting continue-as-new.
    const snapshot = stateKey();
    await condition(() => stateKey() !== snapshot || workflowInfo().continueAsNewSuggested);
    if (workflowInfo().continueAsNewSuggested) {
      ending = true;
      await condition(allHandlersFinished);
      await continueAsNew<typeof migrationWorkflow>({ ...input, carried: c });
    }
  }

  // The final counts: one last reading of the ledger, so the result and the UI agree with the report.
  ending = true;
  c.snapshot = await localActs.readProgress({ ...ref, windowMs: RATE_WINDOW_MS });
  showProgress();
  await condition(allHandlersFinished);
  const final = progress();
  return {
    migrationId: input.migrationId,
    status: c.control.cancelled ? 'cancelled' : 'completed',
    stages: final.stages.filter((s) => c.stages[s.stage] !== undefined),
  };
}

/** The app-wide Action a stage spends longest on at the budgets: its rate measures the stage's pace. */
function bottleneckAction(
  actions: readonly StageActionWork[],
  budgetOf: (action: string) => number
): string | undefined {
  let best: StageActionWork | undefined;
  for (const a of actions)
    if (!a.perGroup && (!best || a.calls / budgetOf(a.action) > best.calls / budgetOf(best.action))) best = a;
  return best?.action;
}

async function startStage(input: MigrationInput, stage: Stage, c: MigrationCarried): Promise<void> {
  const plan = c.plan![stage];
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
    c.stages[stage] = { ...c.stages[stage], status: 'done', finishedAt: Date.now(), pausedMs: 0 };
  }
}

export type { Counts };
