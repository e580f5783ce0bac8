/**
 * Runs one stage of a migration. `pages` stages keep a window of page activities (one batch call each) in flight;
 * `fanout` stages keep a sliding window of durable child workflows (one per owner or group). Both continue as new
 * before their histories grow large, carrying cursors, counters, in-flight children and the pause state.
 */
import {
  allHandlersFinished,
  condition,
  sleep,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MigrationActivities, MigrationRef } from '../activities/contract';
import type { FanoutItem, FanoutStage, PageStage } from '../src/staging/migration-store';
import { STAGE_KIND, type Stage } from '../src/shared/stages';
import { ZIM_MIGRATION_ID, ZIM_MIGRATION_STAGE } from '../src/shared/search-attributes';
import { entitySummary, stageSummary, summaryDetails } from '../src/shared/ui-metadata';
import {
  addCounts,
  cancelSignal,
  childReportSignal,
  pauseSignal,
  resumeSignal,
  stageReportSignal,
  workflowIds,
  type Counts,
} from '../src/shared/workflow-api';
import { LOCAL_ACTIVITY_OPTIONS, ZIM_CALL_ACTIVITY_OPTIONS } from './activity-options';
import { defaultPageWindow } from './page-window';
import { ChildReports, type LatestReports } from './child-reports';
import { catchUpChild, Control, type ControlState } from './control';
import { entitySequenceWorkflow, type EntityKind } from './entity-sequence';

export interface StageTuning {
  /** Page activities in flight at once (pages stages; default page-window.ts). */
  pageWindow?: number;
  /** Child workflows running at once (fan-out stages). */
  childWindow?: number;
  /** Pages or child starts per run before continuing as new (tests lower these). */
  maxPagesPerRun?: number;
  maxChildStartsPerRun?: number;
  maxStepsPerChildRun?: number;
  /** How long a fan-out stage waits without progress before checking on its children (default 5 minutes). */
  childLivenessCheck?: string;
}

export interface StageInput extends MigrationRef {
  stage: Stage;
  parentWorkflowId: string;
  planned: number;
  pages: number;
  tuning?: StageTuning;
  /** The migration's pause state when it started this stage. */
  control?: ControlState;
  /** A catch-up round's fan-out stage: only the round's items (new groups, owners and groups with new messages). */
  round?: number;
  /** Carried across continue-as-new. */
  carried?: StageCarried;
}

interface StageCarried {
  /** Pages done, children finished (their final totals), children found already complete. */
  counts: Counts;
  /** The newest report of each child in flight (see ChildReport). */
  reports: LatestReports;
  control: ControlState;
  nextPage: number;
  cursor: string | null;
  exhausted: boolean;
  queue: FanoutItem[];
  /** Children running, by their items (child ids derive from them). */
  inFlight: FanoutItem[];
}

const zimActs = proxyActivities<MigrationActivities>(ZIM_CALL_ACTIVITY_OPTIONS);
const localActs = proxyActivities<MigrationActivities>(LOCAL_ACTIVITY_OPTIONS);

const FANOUT_CHILD: Record<FanoutStage, { kind: EntityKind; id: (m: string, e: string) => string }> = {
  'peer-messages': { kind: 'peer-history', id: workflowIds.peerHistory },
  groups: { kind: 'group-setup', id: workflowIds.groupSetup },
  'group-messages': { kind: 'group-history', id: workflowIds.groupHistory },
};

const REPORT_EVERY_MS = 2_000;
/** Patch marker: a child's final report is taken even with a number already seen (a reset run's, child-reports.ts). */
const FINAL_REPORT_WHATEVER_ITS_SEQ = 'final-report-whatever-its-seq';
/** Patch marker: a cancelled stage waiting for its children checks on them after a quiet spell, as a running one. */
const CANCELLED_WAIT_CHECKS_CHILDREN = 'cancelled-wait-checks-children';

export async function stageWorkflow(input: StageInput): Promise<Counts> {
  setCurrentDetails(
    summaryDetails(
      stageSummary(input.migrationId, input.stage),
      workflowInfo().continuedFromExecutionRunId !== undefined
    )
  );
  const c: StageCarried = input.carried ?? {
    counts: { planned: input.planned, done: 0, failed: 0, skipped: 0, calls: 0 },
    reports: {},
    control: { ...(input.control ?? { paused: false, cancelled: false }) },
    nextPage: 0,
    cursor: null,
    exhausted: false,
    queue: [],
    inFlight: [],
  };
  const tuning = input.tuning ?? {};
  const childIdOf = (item: FanoutItem) => FANOUT_CHILD[input.stage as FanoutStage].id(input.migrationId, item.id);
  const inFlight = new Map<string, FanoutItem>(c.inFlight.map((item) => [childIdOf(item), item]));
  const ref: MigrationRef = { migrationId: input.migrationId, stagingPath: input.stagingPath };

  // Forward pause/resume/cancel to every running child so no new ZIM call starts anywhere in the tree.
  const control = new Control(c.control, (event, args) => {
    const signal = event === 'pause' ? pauseSignal : event === 'resume' ? resumeSignal : cancelSignal;
    for (const id of inFlight.keys()) {
      getExternalWorkflowHandle(id)
        .signal(signal, args)
        .catch((err: unknown) => log.warn('could not forward control signal', { id, event, err }));
    }
  });

  const reports = new ChildReports(c.counts, c.reports);
  // A child's reports can be delivered in the same workflow task as its start, and signals are handled before the
  // start resolves: count them, and remember a finish, or the stage would wait for a child that is long done.
  const starts: ChildStarts = { starting: new Set(), finishedWhileStarting: new Set() };
  setHandler(childReportSignal, (report) => {
    const starting = starts.starting.has(report.childId);
    if (!inFlight.has(report.childId) && !starting) return; // a late or duplicate report of a child counted finished
    // Asked only when a final report comes with a number already seen: runs recorded before take it as stale.
    if (!reports.take(report, () => patched(FINAL_REPORT_WHATEVER_ITS_SEQ))) return;
    inFlight.delete(report.childId);
    if (starting) starts.finishedWhileStarting.add(report.childId);
  });

  const parent = getExternalWorkflowHandle(input.parentWorkflowId);
  const reportToParent = async (finished?: 'done' | 'cancelled') => {
    await parent.signal(stageReportSignal, {
      stage: input.stage,
      counts: reports.current(),
      finished,
      from: workflowInfo().workflowId,
    });
  };
  // Progress reaches the parent within 2 s of moving, also while the stage only waits for its children (a full
  // window, or the last ones running), and costs nothing while it stands still.
  const countsKey = () => {
    const now = reports.current();
    return `${now.done}/${now.failed}/${now.skipped}/${now.calls}`;
  };
  const reportWhileMoving = async () => {
    for (;;) {
      const seen = countsKey();
      await condition(() => countsKey() !== seen);
      await sleep(REPORT_EVERY_MS);
      await reportToParent();
    }
  };
  void reportWhileMoving();

  const carryOn = async (): Promise<never> => {
    await reportToParent();
    await condition(allHandlersFinished);
    return await continueAsNew<typeof stageWorkflow>({ ...input, carried: { ...c, inFlight: [...inFlight.values()] } });
  };

  if (STAGE_KIND[input.stage] === 'pages') {
    const window = tuning.pageWindow ?? defaultPageWindow();
    const maxPages = tuning.maxPagesPerRun ?? 500;
    let running = 0;
    let startedThisRun = 0;
    const failures: unknown[] = [];
    while (c.nextPage < input.pages && !control.state.cancelled) {
      if (startedThisRun >= maxPages || workflowInfo().continueAsNewSuggested) {
        await condition(() => running === 0);
        await carryOn();
      }
      await control.mayProceed(() => running < window);
      if (control.state.cancelled) break;
      const page = c.nextPage++;
      startedThisRun++;
      running++;
      zimActs
        .runPage({ ...ref, stage: input.stage as PageStage, page })
        .then((outcome) => addCounts(c.counts, outcome))
        .catch((err: unknown) => failures.push(err))
        .finally(() => running--);
    }
    await condition(() => running === 0);
    if (failures.length > 0 && !isCancellation(failures[0])) throw failures[0];
  } else {
    const stage = input.stage as FanoutStage;
    const child = FANOUT_CHILD[stage];
    // Most owners have a few short conversations, so a child spends much of its life starting and finishing:
    // many children at once keep enough conversations importing to fill the budget (docs/benchmarks.md, makespan).
    const window = tuning.childWindow ?? 200;
    const maxStarts = tuning.maxChildStartsPerRun ?? 300;
    let startedThisRun = 0;
    // Children are started without waiting for each start to be confirmed (one workflow task round trip each),
    // which capped the stage at a few dozen starts per second; a start that fails fails the stage.
    const startFailures: unknown[] = [];
    const busy = () => inFlight.size + starts.starting.size;
    const throwIfAStartFailed = () => {
      if (startFailures.length > 0) throw startFailures[0];
    };
    // A child that was terminated or failed never reports; after a quiet spell ask Temporal and restart it.
    const recheckChildren = async () => {
      for (const [id, item] of [...inFlight]) {
        const status = await localActs.describeWorkflow({ workflowId: id });
        if (status === 'running') continue;
        inFlight.delete(id);
        if (status === 'completed') continue; // its reports arrived (signals are durable); nothing is lost
        // A restarted child counts its steps again from the ledger: forget what this one reported.
        reports.forget(id);
        log.warn('restarting a child that closed without finishing', { id, status });
        c.queue.unshift(item);
      }
    };
    const waitQuietly = async (ready: () => boolean) => {
      while (!(await condition(ready, tuning.childLivenessCheck ?? '5 minutes'))) await recheckChildren();
    };
    while (!control.state.cancelled && (c.queue.length > 0 || !c.exhausted || busy() > 0)) {
      throwIfAStartFailed();
      if (startedThisRun >= maxStarts || workflowInfo().continueAsNewSuggested) {
        await condition(() => starts.starting.size === 0); // what continues as new are children known to run
        throwIfAStartFailed();
        await carryOn();
      }
      if (c.queue.length === 0 && c.exhausted) {
        // Everything started: wait for the children in flight (or for one to need a restart).
        await waitQuietly(
          () => busy() === 0 || c.queue.length > 0 || control.state.cancelled || startFailures.length > 0
        );
        continue;
      }
      await waitQuietly(() => control.state.cancelled || (!control.state.paused && busy() < window));
      if (control.state.cancelled) break;
      if (c.queue.length === 0) {
        const page = await localActs.listFanoutItems({
          ...ref,
          stage,
          after: c.cursor,
          limit: 200,
          ...(input.round !== undefined && { round: input.round }),
        });
        c.queue.push(...page.items);
        c.cursor = page.next;
        c.exhausted = page.next === null;
        continue;
      }
      const item = c.queue.shift()!;
      startedThisRun++;
      startEntityChild(input, child.kind, item, childIdOf(item), control.state, tuning, {
        inFlight,
        starts,
        counts: c.counts,
      }).catch((err: unknown) => startFailures.push(err));
    }
    // Cancelled: wait for the children in flight to end, still checking on them after a quiet spell (one that was
    // terminated never reports). Runs recorded before waited without the check.
    if (control.state.cancelled && busy() > 0 && patched(CANCELLED_WAIT_CHECKS_CHILDREN))
      await waitQuietly(() => busy() === 0);
    await condition(() => busy() === 0);
    throwIfAStartFailed();
  }

  await reportToParent(control.state.cancelled ? 'cancelled' : 'done');
  await condition(allHandlersFinished);
  return reports.current();
}

/** Children whose start is in flight, and those of them that already reported their finish. */
interface ChildStarts {
  starting: Set<string>;
  finishedWhileStarting: Set<string>;
}

async function startEntityChild(
  input: StageInput,
  kind: EntityKind,
  item: FanoutItem,
  childId: string,
  control: ControlState,
  tuning: StageTuning,
  track: { inFlight: Map<string, FanoutItem>; starts: ChildStarts; counts: Counts }
): Promise<void> {
  const sent = { ...control };
  const { inFlight, starts, counts } = track;
  /** Whether the child reported its finish while its start was in flight (then it is not waited for). */
  const startSettled = () => {
    starts.starting.delete(childId);
    return starts.finishedWhileStarting.delete(childId);
  };
  starts.starting.add(childId);
  try {
    await startChild(entitySequenceWorkflow, {
      workflowId: childId,
      args: [
        {
          migrationId: input.migrationId,
          stagingPath: input.stagingPath,
          kind,
          entityId: item.id,
          stageWorkflowId: workflowInfo().workflowId,
          control: sent,
          maxStepsPerRun: tuning.maxStepsPerChildRun,
          // A round's group history starts at its first new message; its owners' lanes hold only new ones.
          ...(item.start ? { next: item.start } : {}),
          ...(input.round !== undefined && { round: input.round }),
        },
      ],
      // Children outlive this run when the stage continues as new; they report by workflow id to the newest run.
      parentClosePolicy: 'ABANDON',
      // A child that completed is never run again; one that failed or was terminated may be (the ledger keeps it exact).
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      staticSummary: entitySummary(input.migrationId, kind, item.id),
      typedSearchAttributes: [
        { key: ZIM_MIGRATION_ID, value: input.migrationId },
        { key: ZIM_MIGRATION_STAGE, value: input.stage },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
      startSettled();
      throw err;
    }
    // Started by an earlier run of this migration: wait for it if it still runs, else its work is already done.
    const status = await localActs.describeWorkflow({ workflowId: childId });
    if (startSettled()) return;
    if (status === 'running') inFlight.set(childId, item);
    else counts.skipped += item.planned;
    return;
  }
  if (startSettled()) return;
  inFlight.set(childId, item);
  await catchUpChild(childId, sent, control);
}
