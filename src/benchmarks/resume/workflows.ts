/**
 * The two ways a workflow waits, for the resume-after-kill benchmark: between tasks (an activity's answer, a timer:
 * the next task goes to the worker's sticky queue) and inside an open task (a local activity, as a conversation's
 * message imports wait for their call slots). Imports only the SDK.
 */
import { proxyActivities, proxyLocalActivities, sleep } from '@temporalio/workflow';

export interface ResumeActivities {
  /** Records that `step` happened (and when) in the benchmark's tick file. */
  tick(step: number): Promise<void>;
  /** As tick, after waiting `ms`: a message import waiting for its slot. */
  slowTick(step: number, ms: number): Promise<void>;
}

const { tick } = proxyActivities<ResumeActivities>({
  startToCloseTimeout: '2s',
  retry: { initialInterval: '100ms' },
});
const { slowTick } = proxyLocalActivities<ResumeActivities>({ startToCloseTimeout: '30s' });

/** Steps with the workflow task closed in between. */
export async function betweenTasks(steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) {
    await tick(i);
    await sleep(100);
  }
}

/** Steps inside one open workflow task: local activities of a second each. */
export async function inOpenTask(steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) await slowTick(i, 1_000);
}
