import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/config-error';
import {
  DEFAULT_WORKFLOW_ACTIVATION_TIMEOUT_S,
  WORKFLOW_ACTIVATION_TIMEOUT_ENV,
  workflowActivationOptions,
} from '../../src/worker/workflow-activation-timeout';

describe('the workflow activation timeout', () => {
  it('is 60 s unless set, far above the 5 s a starved machine stretched an activation past', () => {
    assert.equal(DEFAULT_WORKFLOW_ACTIVATION_TIMEOUT_S, 60);
    assert.deepEqual(workflowActivationOptions({}), { isolateExecutionTimeout: 60_000 });
    assert.deepEqual(workflowActivationOptions({ [WORKFLOW_ACTIVATION_TIMEOUT_ENV]: ' ' }), {
      isolateExecutionTimeout: 60_000,
    });
  });

  it(`takes whole seconds from ${WORKFLOW_ACTIVATION_TIMEOUT_ENV}`, () => {
    assert.deepEqual(workflowActivationOptions({ [WORKFLOW_ACTIVATION_TIMEOUT_ENV]: '300' }), {
      isolateExecutionTimeout: 300_000,
    });
  });

  for (const bad of ['4', '3601', '1.5', 'abc', '60s']) {
    it(`refuses "${bad}" naming the variable and the range`, () => {
      assert.throws(
        () => workflowActivationOptions({ [WORKFLOW_ACTIVATION_TIMEOUT_ENV]: bad }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.includes(WORKFLOW_ACTIVATION_TIMEOUT_ENV) &&
          err.message.includes('from 5 to 3600')
      );
    });
  }
});
