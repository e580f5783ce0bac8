/** Turns zod's issues for one record into the validator's issues: a rule id and a message naming the field. */
import type { z } from 'zod';
import { isRuleId } from '../import-format/rules';
import type { RecordIssue } from '../import-format/zim-checks';

/** One issue per field and rule: an empty id breaks both the length and the charset rule, reported once. */
export function schemaIssues(error: z.ZodError, value: unknown): RecordIssue[] {
  const seen = new Set<string>();
  return error.issues.flatMap((issue) => {
    const key = `${issue.path.join('.')}\0${isRuleId(issue.message) ? issue.message : issue.code + issue.message}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [toIssue(issue, value)];
  });
}

function toIssue(issue: z.core.$ZodIssue, value: unknown): RecordIssue {
  const field = issue.path.length ? issue.path.join('.') : 'record';
  if (isRuleId(issue.message)) {
    const shown = JSON.stringify(valueAt(value, issue.path))?.slice(0, 80) ?? 'nothing';
    return { rule: issue.message, message: `${field}: ${shown} is not a valid ZIM id` };
  }
  if (issue.code === 'invalid_union' && issue.path.at(-1) === 'type' && 'options' in issue) {
    const got = JSON.stringify(valueAt(value, issue.path)) ?? 'no type';
    return { rule: 'message.type', message: `type ${got} is not one of ${(issue.options as unknown[]).join(', ')}` };
  }
  return { rule: 'record.schema', message: `${field}: ${issue.message}` };
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}
