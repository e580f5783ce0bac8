import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { workflowMemorySettings } from '../../src/worker/workflow-memory';

describe('the workflow thread heap', () => {
  it('limits the heap of a thread started after it (where the SDK runs workflows), not the heap already running', () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const { getHeapStatistics } = require('node:v8');
      const mb = () => Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
      const before = mb();
      require(${JSON.stringify(path.join(__dirname, '../../src/worker/workflow-memory.ts'))}).limitWorkflowHeap(128);
      const w = new Worker('require("node:worker_threads").parentPort.postMessage(require("node:v8").getHeapStatistics().heap_size_limit)', { eval: true });
      w.once('message', (limit) => { console.log(JSON.stringify({ before, main: mb(), thread: Math.round(limit / 2 ** 20) })); w.terminate(); });
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' })) as {
      before: number;
      main: number;
      thread: number;
    };
    assert.equal(out.main, out.before);
    // The old generation's 128 MB plus the young generation V8 sizes from it.
    assert.ok(out.thread >= 128 && out.thread < 200, `thread heap ${out.thread} MB`);
  });

  it('gives the limit to the threads started inside withWorkflowHeap only, not to those started after it', () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const { getHeapStatistics } = require('node:v8');
      const mb = (limit) => Math.round(limit / 2 ** 20);
      const thread = () => new Promise((resolve) => {
        const w = new Worker('require("node:worker_threads").parentPort.postMessage(require("node:v8").getHeapStatistics().heap_size_limit)', { eval: true });
        w.once('message', (limit) => { w.terminate(); resolve(mb(limit)); });
      });
      const { withWorkflowHeap } = require(${JSON.stringify(path.join(__dirname, '../../src/worker/workflow-memory.ts'))});
      (async () => {
        const inside = await withWorkflowHeap(128, thread);
        const later = await thread();
        console.log(JSON.stringify({ main: mb(getHeapStatistics().heap_size_limit), inside, later }));
      })();
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' })) as {
      main: number;
      inside: number;
      later: number;
    };
    assert.ok(out.inside >= 128 && out.inside < 200, `inside: ${out.inside} MB`);
    assert.ok(out.later >= out.main, `a thread started after: ${out.later} MB, the main thread ${out.main} MB`);
  });

  it('sizes the workflow cache from the heap, and never gives more workflow task slots than it caches', () => {
    assert.deepEqual(workflowMemorySettings(160), {
      maxCachedWorkflows: 480,
      maxConcurrentWorkflowTaskExecutions: 250,
    });
    assert.deepEqual(workflowMemorySettings(96), {
      maxCachedWorkflows: 288,
      maxConcurrentWorkflowTaskExecutions: 250,
    });
    assert.equal(workflowMemorySettings(4096).maxCachedWorkflows, 12_288);
  });
});
