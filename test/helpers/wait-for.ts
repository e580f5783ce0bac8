/** Polls `check` until it holds; past the timeout, fails naming what it waited for (and `explain`'s account). */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 90_000,
  explain: () => Promise<string> = async () => ''
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} ${await explain()}`.trimEnd());
    await new Promise((r) => setTimeout(r, 200));
  }
}
