/**
 * JSON for ZIM's wire format. ZIM sends MsgId as a JSON number that can exceed 2^53 (§6.10), which JSON.parse would
 * round. Integers beyond the safe range come back as bigint; the response schemas turn the ones they expect
 * (MsgId, cursors) into exact decimal strings and refuse them anywhere else.
 */
import { parse, stringify } from 'lossless-json';
import { OLD_CPU_PATH } from '../shared/bench-old-cpu-path';

const INTEGER = /^-?\d+$/;

function parseNumber(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) || !INTEGER.test(text) ? n : BigInt(text);
}

/** 16 digits in a row: the shortest run that can be an integer beyond 2^53 (9,007,199,254,740,992). */
const LONG_DIGITS = /\d{16}/;

export function parseZimJson(text: string): unknown {
  // Without such a run every number is safe and JSON.parse gives the same values, several times faster: nearly
  // every answer (ImportPeerMsg's MsgId is a string) takes this path.
  if (!OLD_CPU_PATH && !LONG_DIGITS.test(text)) return JSON.parse(text);
  return parse(text, null, parseNumber);
}

/** Like JSON.stringify, but bigint values are written as exact JSON numbers. */
export function stringifyZimJson(value: unknown): string {
  let text: string | undefined;
  if (OLD_CPU_PATH) text = stringify(value);
  else
    try {
      text = JSON.stringify(value); // throws on a bigint (a cursor): then the lossless writer below
    } catch {
      text = stringify(value);
    }
  if (text === undefined) throw new TypeError('value is not serializable to JSON');
  return text;
}
