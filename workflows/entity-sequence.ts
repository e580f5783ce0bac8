/**
 * One durable child per owner or group: walks that entity's steps in order (an owner's message copies oldest first
 * per conversation, a group's history, a group's creation steps), one activity (one ZIM call) per step, reporting
 * progress to its stage and continuing as new before its history grows large.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import { LANES_PER_OWNER } from '../src/shared/chains';
import { entitySummary, summaryDetails } from '../src/shared/ui-metadata';
import type { LandedMark, MigrationActivities, MigrationRef, StepResult } from '../activities/contract';
import { addCounts, childReportSignal, type ChildTotals } from '../src/shared/workflow-api';
import { Control, type ControlState } from './control';
import {
  LOCAL_ACTIVITY_OPTIONS,
  ZIM_CALL_ACTIVITY_OPTIONS,
  ZIM_IMPORT_LOCAL_ACTIVITY_OPTIONS,
} from './activity-options';

export type EntityKind = 'peer-history' | 'group-setup' | 'group-history';

export interface EntitySequenceInput extends MigrationRef {
  kind: EntityKind;
  /** Owner user id or group id. */
  entityId: string;
  /** The stage workflow that receives progress reports. */
  stageWorkflowId: string;
  /** A catch-up round: peer-history imports only the messages the round added. */
  round?: number;
  /** Resume point and reconciliation mark, carried across continue-as-new. */
  next?: number;
  prev?: LandedMark | null;
  control?: ControlState;
  /** Steps per run before continuing as new; tests lower it to force continue-as-new. */
  maxStepsPerRun?: number;
  /** peer-history: conversations imported at once (each strictly in order). Default LANES_PER_OWNER. */
  lanesPerOwner?: number;
  /** peer-history: conversations under way and still to do, carried across continue-as-new. */
  lanes?: Lane[];
  queue?: Lane[];
  /** Carried across continue-as-new: what the child has done so far, and its last report's number. */
  totals?: ChildTotals;
  reportSeq?: number;
}

/** One conversation of an owner's copy: seqs [next, end), and the newest message known to have landed in it. */
export interface Lane {
  next: number;
  end: number;
  prev: LandedMark | null;
}

const acts = proxyActivities<MigrationActivities>(ZIM_CALL_ACTIVITY_OPTIONS);
const importActs = proxyLocalActivities<MigrationActivities>(ZIM_IMPORT_LOCAL_ACTIVITY_OPTIONS);
// Reads staging only, once per owner: local, so a child starts importing without an activity task round trip.
const stagingReads = proxyLocalActivities<MigrationActivities>(LOCAL_ACTIVITY_OPTIONS);

/**
 * Progress reports go out every so many steps, never by the clock: a report is a command, and it must come at the
 * same point when the workflow replays. Local activity results can reach a replaying worker in a later workflow
 * task (with a later clock) than they reached the live one, so a clock-based report was sent at different
 * points and replay failed with a nondeterminism error (seen in bench:makespan after workflow task timeouts).
 */
const REPORT_EVERY_STEPS = 50;

/**
 * Hands out results of concurrent local activities in the order they were scheduled. A live worker learns of
 * local activity results in completion order, a replaying one in schedule order; lanes that resumed in different
 * orders would schedule their next steps under different sequence numbers, and replay would fail (a known SDK
 * behaviour, see docs/architecture.md). Costs only a wait for an earlier step that is still running.
 */
let scheduleOrder: Promise<unknown> = Promise.resolve();
function inScheduleOrder<T>(result: Promise<T>): Promise<T> {
  const ordered = scheduleOrder.then(() => result);
  scheduleOrder = ordered.catch(() => undefined);
  return ordered;
}

function runStep(input: EntitySequenceInput, step: number, prev: LandedMark | null): Promise<StepResult> {
  const ref: MigrationRef = { migrationId: input.migrationId, stagingPath: input.stagingPath };
  switch (input.kind) {
    case 'peer-history':
      return inScheduleOrder(importActs.importPeerMessage({ ...ref, owner: input.entityId, seq: step, prev }));
    case 'group-setup':
      return acts.setupGroupStep({ ...ref, groupId: input.entityId, step });
    case 'group-history':
      return inScheduleOrder(importActs.importGroupMessage({ ...ref, groupId: input.entityId, seq: step, prev }));
  }
}

export async function entitySequenceWorkflow(input: EntitySequenceInput): Promise<void> {
  setCurrentDetails(
    summaryDetails(
      entitySummary(input.migrationId, input.kind, input.entityId),
      workflowInfo().continuedFromExecutionRunId !== undefined
    )
  );
  const control = new Control(input.control ?? { paused: false, cancelled: false });
  const stage = getExternalWorkflowHandle(input.stageWorkflowId);
  const totals: ChildTotals = { ...(input.totals ?? { done: 0, failed: 0, skipped: 0, calls: 0 }) };
  let reportSeq = input.reportSeq ?? 0;
  let stepsSinceReport = 0;
  let stepsThisRun = 0;
  let reportsInFlight: Promise<void>[] = [];
  const flushReports = async () => {
    const sending = reportsInFlight;
    reportsInFlight = [];
    await Promise.all(sending);
  };
  const maxSteps = input.maxStepsPerRun ?? 1_000;

  const report = async (finished: boolean) => {
    const seq = ++reportSeq;
    stepsSinceReport = 0;
    await stage.signal(childReportSignal, { childId: workflowInfo().workflowId, seq, totals: { ...totals }, finished });
  };
  const count = (result: StepResult) => {
    addCounts(totals, result);
    stepsSinceReport++;
    stepsThisRun++;
    if (stepsSinceReport >= REPORT_EVERY_STEPS) {
      // Not awaited: a signal goes out only when the workflow task completes, and lanes must not stall until then.
      const sending = report(false);
      sending.catch(() => undefined); // surfaced by flushReports, not as an unhandled rejection
      reportsInFlight.push(sending);
    }
  };
  const mustContinueAsNew = () => stepsThisRun >= maxSteps || workflowInfo().continueAsNewSuggested;
  const continueWith = async (carried: Partial<EntitySequenceInput>): Promise<never> => {
    await flushReports();
    await report(false);
    await condition(allHandlersFinished);
    return await continueAsNew<typeof entitySequenceWorkflow>({
      ...input,
      ...carried,
      control: control.state,
      totals,
      reportSeq,
    });
  };

  if (input.kind === 'peer-history') {
    // An owner's conversations are independent (order matters only within one), so several go at once.
    const ref: MigrationRef = { migrationId: input.migrationId, stagingPath: input.stagingPath };
    const queue: Lane[] =
      input.queue ??
      (
        await stagingReads.ownerConversations({
          ...ref,
          owner: input.entityId,
          ...(input.round !== undefined && { round: input.round }),
        })
      ).map((r) => ({
        next: r.start,
        end: r.start + r.count,
        prev: null,
      }));
    const lanes: Lane[] = [...(input.lanes ?? [])];
    let stopping = false;
    const takeLane = () => {
      const lane = queue.shift();
      if (lane) lanes.push(lane);
      return lane;
    };
    const runLane = async (first: Lane | undefined) => {
      for (let lane = first; lane; lane = stopping ? undefined : takeLane()) {
        while (lane.next < lane.end) {
          if (!control.ready()) await control.mayProceed();
          if (control.state.cancelled || stopping) return;
          const result = await runStep(input, lane.next, lane.prev);
          if (result.deferred) continue; // the call gate was closed: ask control again
          lane.next++;
          if (result.landed) lane.prev = result.landed;
          count(result);
          if (mustContinueAsNew()) stopping = true;
        }
        lanes.splice(lanes.indexOf(lane), 1);
      }
    };
    const width = input.lanesPerOwner ?? LANES_PER_OWNER;
    const runners = lanes.map((lane) => runLane(lane));
    while (runners.length < width && queue.length > 0) runners.push(runLane(takeLane()));
    await Promise.all(runners);
    if (stopping && !control.state.cancelled && (lanes.length > 0 || queue.length > 0)) {
      await continueWith({ lanes, queue });
    }
    await flushReports();
    await report(true);
    return;
  }

  let next = input.next ?? 0;
  let prev = input.prev ?? null;
  for (;;) {
    if (mustContinueAsNew()) await continueWith({ next, prev });
    if (!control.ready()) await control.mayProceed();
    if (control.state.cancelled) break;
    const result = await runStep(input, next, prev);
    if (result.deferred) continue;
    next++;
    if (result.landed) prev = result.landed;
    count(result);
    if (!result.hasMore) break;
  }
  await flushReports();
  await report(true);
}
