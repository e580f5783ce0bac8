/**
 * The ZIM client alone against an emulator with limits off: ImportPeerMsg calls in a loop, `concurrency` loops at
 * once, no Temporal. The yardstick for what orchestration costs, and (one loop) a single call's round trip.
 */
import { ZimClient } from '../zim-client';
import { startZimEmulator } from '../zim-emulator';
import { TEST_APP_ID, TEST_SECRET } from '../testing/migration-rig';

/** Calls per second over `seconds`. */
export async function bareImportLoop(seconds: number, concurrency: number): Promise<number> {
  const emulator = await startZimEmulator({
    appId: TEST_APP_ID,
    serverSecret: TEST_SECRET,
    rateLimits: { enabled: false, perSecond: {}, perGroupPerSecond: {}, codes: {} },
  });
  const client = new ZimClient({ baseUrl: emulator.url, appId: TEST_APP_ID, serverSecret: TEST_SECRET });
  try {
    const senders = Array.from({ length: concurrency }, (_, i) => `s${i}`);
    await client.userRegister({ UserInfo: [...senders, 'b'].map((UserId) => ({ UserId })) });
    const end = Date.now() + seconds * 1000;
    let calls = 0;
    // One conversation per loop: imports within a conversation must go oldest first, as in a migration.
    await Promise.all(
      senders.map(async (sender) => {
        let time = Date.now() - 86_400_000;
        while (Date.now() < end) {
          await client.importPeerMsg({
            FromUserId: sender,
            ToUserId: 'b',
            ImportedUserId: sender,
            MessageType: 1,
            Priority: 2,
            MessageBody: { Message: 'hello' },
            SendMessageTime: time++,
          });
          calls++;
        }
      })
    );
    return calls / seconds;
  } finally {
    await client.close();
    await emulator.stop();
  }
}

/** One call's round trip (ms): a single loop, one call at a time. */
export async function singleCallRoundTripMs(seconds = 3): Promise<number> {
  return 1000 / (await bareImportLoop(seconds, 1));
}
