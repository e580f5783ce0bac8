import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogEntry } from '@temporalio/worker';
import { WorkerLogger } from '../../src/worker/worker-logger';

describe('the worker log', () => {
  it("drops core's routine 'workflow task longer than 5 s' warning and keeps the rest at its level", () => {
    const written: LogEntry[] = [];
    const logger = new WorkerLogger('WARN', (entry) => written.push(entry));
    logger.warn('[TMPRL1104] run:58:1 Workflow task duration exceeded 5 seconds.');
    logger.warn('Failed to poll for task');
    logger.error('Workflow task failed');
    logger.info('Worker started');
    assert.deepEqual(
      written.map((e) => e.message),
      ['Failed to poll for task', 'Workflow task failed']
    );
  });
});
