import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mallocHint, withWorkerMalloc } from '../../src/worker/malloc-env';

describe("the worker's malloc setting", () => {
  it('is added to the environment the product starts a worker with', () => {
    const env = withWorkerMalloc({ PATH: '/bin' });
    assert.deepEqual(env, { PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '131072' });
  });

  it("keeps the operator's own value", () => {
    assert.equal(withWorkerMalloc({ MALLOC_MMAP_THRESHOLD_: '65536' }).MALLOC_MMAP_THRESHOLD_, '65536');
  });

  it('hints at it on Linux when the worker runs without it, and only then', () => {
    assert.match(mallocHint({}, 'linux') ?? '', /MALLOC_MMAP_THRESHOLD_=131072.*docs\/operations\.md/);
    assert.equal(mallocHint({ MALLOC_MMAP_THRESHOLD_: '131072' }, 'linux'), undefined);
    assert.equal(mallocHint({}, 'darwin'), undefined);
  });
});
