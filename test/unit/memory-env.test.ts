import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mallocHint, withWorkerMemory } from '../../src/worker/memory-env';

describe("the worker's memory settings", () => {
  it('are added to the environment the product starts a worker with', () => {
    assert.deepEqual(withWorkerMemory({ PATH: '/bin' }), {
      PATH: '/bin',
      MALLOC_MMAP_THRESHOLD_: '131072',
      NODE_OPTIONS: '--max-old-space-size=256',
    });
  });

  it("keep the caller's own values and other node options", () => {
    const env = withWorkerMemory({ MALLOC_MMAP_THRESHOLD_: '65536', NODE_OPTIONS: '--enable-source-maps' });
    assert.equal(env.MALLOC_MMAP_THRESHOLD_, '65536');
    assert.equal(env.NODE_OPTIONS, '--enable-source-maps --max-old-space-size=256');
    assert.equal(
      withWorkerMemory({ NODE_OPTIONS: '--max-old-space-size=1024' }).NODE_OPTIONS,
      '--max-old-space-size=1024'
    );
  });

  it('hint at the malloc one on Linux when the worker runs without it, and only then', () => {
    assert.match(mallocHint({}, 'linux') ?? '', /MALLOC_MMAP_THRESHOLD_=131072.*docs\/operations\.md/);
    assert.equal(mallocHint({ MALLOC_MMAP_THRESHOLD_: '131072' }, 'linux'), undefined);
    assert.equal(mallocHint({}, 'darwin'), undefined);
  });
});
