/**
 * JSON for ZIM's wire format. ZIM sends MsgId as a JSON number that can exceed 2^53 (§6.10), which JSON.parse would
 * round. Integers beyond the safe range come back as bigint; the response schemas turn the ones they expect
 * (MsgId, cursors) into exact decimal strings and refuse them anywhere else.
 */
import { parse, stringify } from 'lossless-json';

const INTEGER = /^-?\d+$/;

function parseNumber(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) || !INTEGER.test(text) ? n : BigInt(text);
}

export function parseZimJson(text: string): unknown {
  return parse(text, null, parseNumber);
}

/** Like JSON.stringify, but bigint values are written as exact JSON numbers. */
export function stringifyZimJson(value: unknown): string {
  const text = stringify(value);
  if (text === undefined) throw new TypeError('value is not serializable to JSON');
  return text;
}
