import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { temporalSettings } from '../../src/temporal-connection/connect';

describe('temporalSettings', () => {
  it('follows the Temporal CLI environment conventions, with local defaults', () => {
    const s = temporalSettings({ TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_NAMESPACE: 'chat-migration' });
    assert.equal(s.connectionOptions.address, 'temporal.example:7233');
    assert.equal(s.namespace, 'chat-migration');
    assert.equal(s.taskQueue, 'zim-migrate');
    const d = temporalSettings({ TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', ZIM_MIGRATE_TASK_QUEUE: 'q2' });
    assert.equal(d.connectionOptions.address, 'localhost:7233');
    assert.equal(d.namespace, 'default');
    assert.equal(d.taskQueue, 'q2');
  });
});
