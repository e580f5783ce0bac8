import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitForOpenGate } from '../../activities/call-gate';

describe('call gate', () => {
  const never = new AbortController().signal;

  it('passes at once when open, and as soon as it opens', async () => {
    assert.equal(await waitForOpenGate(async () => true, never, 0), true);
    let polls = 0;
    const started = Date.now();
    assert.equal(await waitForOpenGate(async () => ++polls >= 3, never, 5_000), true);
    assert.equal(polls, 3);
    assert.ok(Date.now() - started < 1_000, 'took longer than a few polls');
  });

  it('gives up (the step is deferred) when it stays closed, or when the activity is cancelled', async () => {
    const started = Date.now();
    assert.equal(await waitForOpenGate(async () => false, never, 500), false);
    assert.ok(Date.now() - started >= 500);
    const cancelled = new AbortController();
    cancelled.abort();
    assert.equal(await waitForOpenGate(async () => false, cancelled.signal, 60_000), false);
  });
});
