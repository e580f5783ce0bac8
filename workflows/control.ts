/**
 * Pause / resume / cancel state shared by every migration workflow. The state travels in continue-as-new inputs,
 * and `onChange` lets a workflow forward each signal to the children it runs.
 */
import { condition, getExternalWorkflowHandle, setHandler } from '@temporalio/workflow';
import { cancelSignal, pauseSignal, resumeSignal, type ControlArgs } from '../src/shared/workflow-api';

export interface ControlState {
  paused: boolean;
  pausedReason?: string;
  cancelled: boolean;
}

export type ControlEvent = 'pause' | 'resume' | 'cancel';

export class Control {
  readonly state: ControlState;

  /** `state` is held by reference: it is the object the workflow carries across continue-as-new. */
  constructor(state: ControlState, onChange: (event: ControlEvent, args: ControlArgs) => void = () => {}) {
    this.state = state;
    setHandler(pauseSignal, (args = {}) => {
      this.state.paused = true;
      this.state.pausedReason = args.reason ?? 'paused by operator';
      onChange('pause', args);
    });
    setHandler(resumeSignal, (args = {}) => {
      this.state.paused = false;
      delete this.state.pausedReason;
      onChange('resume', args);
    });
    setHandler(cancelSignal, (args = {}) => {
      this.state.cancelled = true;
      onChange('cancel', args);
    });
  }

  /** Pauses from inside the workflow (e.g. the error budget is spent), with a reason the operator sees. */
  pause(reason: string): void {
    this.state.paused = true;
    this.state.pausedReason = reason;
  }

  /** Whether new ZIM work may start now (or the workflow is cancelled: check `state.cancelled`). */
  ready(extra: () => boolean = () => true): boolean {
    return this.state.cancelled || (!this.state.paused && extra());
  }

  /**
   * Resolves when new ZIM work may start, or when the workflow is cancelled. Hot loops test `ready()` first: every
   * promise a workflow creates costs a captured stack trace (the SDK's stack-trace query), more than a step's own work.
   */
  async mayProceed(extra: () => boolean = () => true): Promise<void> {
    if (!this.ready(extra)) await condition(() => this.ready(extra));
  }
}

/**
 * A child started with `sent` may have missed a signal that arrived while its start was in flight (it was not yet
 * among the children signals are forwarded to): send it whatever changed since.
 */
export async function catchUpChild(workflowId: string, sent: ControlState, now: ControlState): Promise<void> {
  const child = getExternalWorkflowHandle(workflowId);
  if (now.cancelled && !sent.cancelled) await child.signal(cancelSignal, {});
  if (now.paused && !sent.paused) await child.signal(pauseSignal, { reason: now.pausedReason });
  if (!now.paused && sent.paused) await child.signal(resumeSignal, {});
}
