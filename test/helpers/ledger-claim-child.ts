/**
 * A separate process (another machine, as far as the database can tell) that claims the ledger entries
 * proc-race-0 .. proc-race-(N-1) of a staging from a given moment, all at once through its own pool, and prints the
 * keys it claimed as JSON.
 */
import { openStaging } from '../../src/staging';

const [location, count, token, startAt] = process.argv.slice(2);
void (async () => {
  const store = await openStaging(location!);
  // Every process starts claiming at the same moment, so their claims overlap.
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
  const n = Number(count);
  // Each process walks the keys from its own starting point, so they meet on every key at some moment.
  const from = Number(token!.replace(/\D/g, '')) * Math.floor(n / 3);
  const keys = Array.from({ length: n }, (_, i) => `proc-race-${(from + i) % n}`);
  const claims = await Promise.all(keys.map((key) => store.ledgerClaim('peer-messages', key, token!, 60_000)));
  await store.close();
  console.log(JSON.stringify(keys.filter((_, i) => claims[i]!.claimed)));
})();
