/**
 * The message and its causes: SDK errors such as "Failed to start Workflow" keep the server's reason in `cause`.
 * Our own errors already carry the fix; messages never hold secrets (see src/config, src/zim-client).
 */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 4; depth++) {
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ');
}
