/** Bad command-line usage (a flag value, an app name): the CLI exits with code 2. */
export class UsageError extends Error {}
