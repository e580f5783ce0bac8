/**
 * One durable child per owner or group: walks that entity's steps in order (an owner's message copies oldest first
 * per conversation, a group's history, a group's creation steps), one activity (one ZIM call) at a time, reporting
 * progress to its stage and continuing as new before its history grows large.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { LandedMark, MigrationActivities, MigrationRef, StepResult } from '../activities/contract';
import { childReportSignal, type ChildReport } from '../src/shared/workflow-api';
import { Control, type ControlState } from './control';
import { ZIM_CALL_ACTIVITY_OPTIONS } from './activity-options';

export type EntityKind = 'peer-history' | 'group-setup' | 'group-history';

export interface EntitySequenceInput extends MigrationRef {
  kind: EntityKind;
  /** Owner user id or group id. */
  entityId: string;
  /** The stage workflow that receives progress reports. */
  stageWorkflowId: string;
  /** Resume point and reconciliation mark, carried across continue-as-new. */
  next?: number;
  prev?: LandedMark | null;
  control?: ControlState;
  /** Steps per run before continuing as new; tests lower it to force continue-as-new. */
  maxStepsPerRun?: number;
}

const acts = proxyActivities<MigrationActivities>(ZIM_CALL_ACTIVITY_OPTIONS);

const REPORT_EVERY_STEPS = 50;
const REPORT_EVERY_MS = 2_000;

function runStep(input: EntitySequenceInput, step: number, prev: LandedMark | null): Promise<StepResult> {
  const ref: MigrationRef = { migrationId: input.migrationId, stagingPath: input.stagingPath };
  switch (input.kind) {
    case 'peer-history':
      return acts.importPeerMessage({ ...ref, owner: input.entityId, seq: step, prev });
    case 'group-setup':
      return acts.setupGroupStep({ ...ref, groupId: input.entityId, step });
    case 'group-history':
      return acts.importGroupMessage({ ...ref, groupId: input.entityId, seq: step, prev });
  }
}

export async function entitySequenceWorkflow(input: EntitySequenceInput): Promise<void> {
  const control = new Control(input.control ?? { paused: false, cancelled: false });
  const stage = getExternalWorkflowHandle(input.stageWorkflowId);
  const delta: ChildReport['delta'] = { done: 0, failed: 0, skipped: 0, calls: 0 };
  let next = input.next ?? 0;
  let prev = input.prev ?? null;
  let lastReportAt = Date.now();
  let stepsSinceReport = 0;

  const report = async (finished: boolean) => {
    await stage.signal(childReportSignal, { childId: workflowInfo().workflowId, delta: { ...delta }, finished });
    delta.done = delta.failed = delta.skipped = delta.calls = 0;
    lastReportAt = Date.now();
    stepsSinceReport = 0;
  };

  const maxSteps = input.maxStepsPerRun ?? 1_000;
  for (let stepsThisRun = 0; ; stepsThisRun++) {
    if (stepsThisRun >= maxSteps || workflowInfo().continueAsNewSuggested) {
      await report(false);
      await condition(allHandlersFinished);
      await continueAsNew<typeof entitySequenceWorkflow>({ ...input, next, prev, control: control.state });
    }
    await control.mayProceed();
    if (control.state.cancelled) break;

    const result = await runStep(input, next, prev);
    next++;
    if (result.landed) prev = result.landed;
    delta.done += result.done;
    delta.failed += result.failed;
    delta.skipped += result.skipped;
    delta.calls += result.calls;
    stepsSinceReport++;
    if (!result.hasMore) break;
    if (stepsSinceReport >= REPORT_EVERY_STEPS || Date.now() - lastReportAt >= REPORT_EVERY_MS) await report(false);
  }
  await report(true);
}
