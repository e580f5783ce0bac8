/**
 * How long a workflow waits to move again after its worker is SIGKILLed and a new one starts at once (issue #17),
 * for the two ways our workflows wait: between tasks (the stages and migration waiting for children and activities;
 * the next task goes to the dead worker's sticky queue) and inside an open task (a conversation's message imports,
 * local activities waiting for their call slots; the task times out on the server). Run for the SDK's default
 * sticky queue timeout (10 s) and ours (src/worker/sticky-queue.ts), on a real dev server with real worker processes.
 *
 *   npm run bench:resume -- [--kills 3] [--workflows 6]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDevServer } from '../dev-server/start-dev-server';
import { stickyQueueTimeout } from '../worker/sticky-queue';

const WORKER = path.join(__dirname, 'resume', 'worker.ts');

function startWorker(args: string[]): { child: ChildProcess; ready: Promise<number> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(Date.now());
    });
    child.once('exit', (code) => reject(new Error(`resume worker exited with ${code} before it was ready`)));
  });
  return { child, ready };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main() {
  const { values } = parseArgs({
    options: { kills: { type: 'string', default: '3' }, workflows: { type: 'string', default: '6' } },
  });
  const kills = Number(values.kills);
  const perKind = Number(values.workflows);
  const server = await startDevServer();
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-resume-'));
  console.log(`resume after a worker SIGKILL: ${kills} kills per setting, ${perKind} workflows of each kind`);
  console.log('sticky timeout  new worker ready  between tasks: median  max    open task: median  max');
  try {
    for (const sticky of ['10s', stickyQueueTimeout()]) {
      const gaps = { betweenTasks: [] as number[], inOpenTask: [] as number[] };
      const readies: number[] = [];
      for (let k = 0; k < kills; k++) {
        const taskQueue = `resume-${sticky}-${k}`;
        const tickFile = path.join(dir, `${taskQueue}.ticks`);
        writeFileSync(tickFile, '');
        const args = [server.address, taskQueue, tickFile, sticky];
        const first = startWorker(args);
        await first.ready;
        const handles = await Promise.all(
          (['betweenTasks', 'inOpenTask'] as const).flatMap((kind) =>
            Array.from({ length: perKind }, (_, i) =>
              server.env.client.workflow.start(kind, {
                taskQueue,
                workflowId: `${taskQueue}-${kind}-${i}`,
                args: kind === 'betweenTasks' ? [80] : [15],
              })
            )
          )
        );
        await new Promise((r) => setTimeout(r, 3_000 + k * 700)); // a different moment of each step every time
        first.child.kill('SIGKILL');
        const killedAt = Date.now();
        const second = startWorker(args);
        readies.push((await second.ready) - killedAt);
        await Promise.all(handles.map((h) => h.result()));
        second.child.kill('SIGKILL'); // its workflows are done
        const firstAfter = new Map<string, number>();
        for (const line of readFileSync(tickFile, 'utf8').split('\n').filter(Boolean)) {
          const [id, , at] = line.split(' ') as [string, string, string];
          if (Number(at) > killedAt && !firstAfter.has(id)) firstAfter.set(id, Number(at) - killedAt);
        }
        for (const [id, gap] of firstAfter) gaps[id.includes('betweenTasks') ? 'betweenTasks' : 'inOpenTask'].push(gap);
      }
      console.log(
        `${sticky.padEnd(15)} ${s(median(readies)).padEnd(17)} ${s(median(gaps.betweenTasks)).padEnd(22)} ` +
          `${s(Math.max(...gaps.betweenTasks)).padEnd(6)} ${s(median(gaps.inOpenTask)).padEnd(18)} ` +
          `${s(Math.max(...gaps.inOpenTask))}`
      );
    }
    console.log("(seconds from the kill to each workflow's next step; the new worker is started at the kill)");
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
