/** A separate process that reserves N ImportPeerMsg slots from a shared schedule file and sends them back. */
import { SqliteCallScheduler } from '../../src/rate-limit/call-scheduler';

const [file, count] = process.argv.slice(2);
const scheduler = new SqliteCallScheduler(file!, { appId: 7, sleep: async () => undefined });
const slots: number[] = [];
void (async () => {
  for (let i = 0; i < Number(count); i++) slots.push(await scheduler.acquire('ImportPeerMsg'));
  scheduler.close();
  process.send!(slots, () => process.exit(0));
})();
