/** Command-line flags of the benchmarks: parseArgs' values, checked by one zod schema per benchmark. */
import { z } from 'zod';

/** A whole-number flag of at least `min`, named in the error. */
export const wholeNumber = (flag: string, min: number) =>
  z.coerce
    .number({ error: `${flag}: a whole number` })
    .int(`${flag}: a whole number`)
    .min(min, `${flag}: at least ${min}`);

/** parseArgs' values keyed as the schema spells them: `--heavy-owners` → `heavyOwners`. */
export function camelCaseKeys(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(values).map(([flag, v]) => [flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()), v])
  );
}
