/**
 * `npm run ui:screenshot -- --migration acme`: opens a migration's page in the Temporal UI with headless Chromium
 * and saves a PNG, e.g. to attach to a status report or to check the UI from a machine without a desktop.
 */
import { Command } from 'commander';
import { z } from 'zod';
import { workflowIds } from '../shared/workflow-api';
import { temporalSettings } from '../temporal-connection/connect';
import { ChromiumMissingError } from './chromium';
import { captureWorkflowPage, DEFAULT_TAB, PageNotRenderedError } from './workflow-page';

const optionsSchema = z
  .object({
    uiUrl: z.url({ protocol: /^https?$/ }),
    namespace: z.string().min(1),
    workflowId: z.string().min(1).optional(),
    migration: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a migration name is 1-64 letters, digits, ".", "_" or "-"')
      .optional(),
    out: z.string().min(1).optional(),
    tab: z.union([z.string().min(1), z.literal(false)]),
    waitFor: z.array(z.string().min(1)).default([]),
    timeout: z.coerce.number().positive().max(600),
  })
  .refine((o) => (o.workflowId === undefined) !== (o.migration === undefined), {
    message: 'give exactly one of --workflow-id or --migration',
  });

function buildScreenshotProgram(): Command {
  return new Command('ui:screenshot')
    .description("Save a PNG of a workflow's page in the Temporal UI, rendered by headless Chromium")
    .option(
      '--ui-url <url>',
      'Temporal UI base URL (env TEMPORAL_UI_URL)',
      process.env.TEMPORAL_UI_URL ?? 'http://localhost:8233'
    )
    .option('--namespace <ns>', 'Temporal namespace (default: TEMPORAL_NAMESPACE / profile, else "default")')
    .option('--migration <name>', 'migration name: the page of workflow zim-migrate/<name>')
    .option('--workflow-id <id>', 'any workflow id, e.g. zim-migrate/acme/stage/peer-messages')
    .option('--out <file.png>', 'where to write the PNG (default: ./temporal-ui-<workflow id>.png)')
    .option('--tab <label>', 'the tab of the workflow page to show', DEFAULT_TAB)
    .option('--no-tab', "stay on the UI's default tab (the timeline)")
    .option('--wait-for <text...>', 'texts that must be shown before the screenshot (besides the workflow id)')
    .option('--timeout <seconds>', 'how long to wait for the page to render', '60')
    .addHelpText(
      'after',
      `
Needs Chromium (CHROMIUM_PATH or /usr/bin/chromium; Debian: apt-get install -y --no-install-recommends chromium).

Examples:
  $ npm run ui:screenshot -- --migration rehearsal
  $ npm run ui:screenshot -- --migration acme --ui-url https://temporal.example.com --namespace prod --out acme.png
  $ npm run ui:screenshot -- --migration acme --wait-for COMPLETED --out acme-done.png
  $ npm run ui:screenshot -- --workflow-id zim-migrate/acme/stage/peer-messages --no-tab    (its timeline)`
    )
    .action(async (raw: Record<string, unknown>) => {
      const parsed = optionsSchema.safeParse({ ...raw, namespace: raw.namespace ?? temporalSettings().namespace });
      if (!parsed.success) {
        console.error(`ui:screenshot: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
        process.exitCode = 2;
        return;
      }
      const o = parsed.data;
      const workflowId = o.workflowId ?? workflowIds.migration(o.migration!);
      const shot = await captureWorkflowPage({
        uiUrl: o.uiUrl,
        namespace: o.namespace,
        workflowId,
        outPath: o.out ?? `temporal-ui-${workflowId.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`,
        tab: o.tab || null,
        waitForText: o.waitFor,
        timeoutMs: o.timeout * 1000,
      });
      console.log(`${shot.outPath}  (${shot.url})`);
    });
}

if (require.main === module) {
  buildScreenshotProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      // Expected failures read best as their message alone; anything else keeps its stack.
      const known = err instanceof ChromiumMissingError || err instanceof PageNotRenderedError;
      console.error(`ui:screenshot: ${known ? err.message : String((err as Error).stack ?? err)}`);
      process.exitCode = 1;
    });
}
