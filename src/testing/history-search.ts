/**
 * Whether a string occurs anywhere in a workflow history, payloads included: Temporal keeps payload data as bytes
 * (JSON.stringify of a history shows them as numbered fields, hiding any text), so every byte array is decoded.
 */
export function historyContains(node: unknown, needle: string): boolean {
  if (typeof node === 'string') return node.includes(needle);
  if (node instanceof Uint8Array) return Buffer.from(node).toString('utf8').includes(needle);
  if (Array.isArray(node)) return node.some((v) => historyContains(v, needle));
  if (node && typeof node === 'object') return Object.values(node).some((v) => historyContains(v, needle));
  return false;
}
