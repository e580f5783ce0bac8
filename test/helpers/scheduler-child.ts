/** A separate process that makes N ImportPeerMsg sends through a shared schedule file and reports their times. */
import { SqliteCallScheduler } from '../../src/rate-limit/call-scheduler';

const [file, count] = process.argv.slice(2);
const scheduler = new SqliteCallScheduler(file!, { appId: 7 });
const slots: number[] = [];
void (async () => {
  for (let i = 0; i < Number(count); i++) slots.push(await scheduler.acquire('ImportPeerMsg'));
  await scheduler.close();
  process.send!(slots, () => process.exit(0));
})();
