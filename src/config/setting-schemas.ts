/**
 * One zod schema per setting, shared by the config file (JSON values) and flags and environment variables (strings),
 * so a value means the same wherever it comes from. Messages read after the setting's name: `ZIM_APP_ID must be …`.
 */
import { z } from 'zod';
import { BUDGET_ACTIONS } from '../shared/budget-actions';

/** Numbers may come as JSON numbers or as the strings flags and environment variables carry. */
const numeric = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), schema);

const APP_ID = 'must be your ZIM AppID from the ZEGO console: a whole number from 1 to 4294967295';
const HEADROOM = 'must be the percentage of each budget left unused, a number from 0 to 50 (default 2)';
const BUDGET = 'must be calls per second, a number greater than 0 and at most 10000';
const ZIM_TIMEOUT = 'must be the time one ZIM call may take in ms, a whole number from 1000 to 15000 (default 15000)';
const WORKFLOW_HEAP = "must be the workflow thread's heap in MB, a whole number from 96 to 4096 (default 256)";
const STEP = 'must be the time of one chain step in ms, a number from 0 to 60000 (0 times no chains)';

const httpUrl = (message: string) =>
  z
    .string({ error: message })
    .trim()
    .refine((s) => /^https?:\/\/[^\s/]+/.test(s) && URL.canParse(s), message);

export const settingSchemas = {
  appId: numeric(z.number({ error: APP_ID }).int(APP_ID).min(1, APP_ID).max(0xffffffff, APP_ID)),
  baseUrl: httpUrl(
    "must be ZIM's API host as an http(s) URL, e.g. https://zim-api.zego.im (or an emulator's http://127.0.0.1:PORT)"
  ),
  url: httpUrl('must be an http(s) URL, e.g. https://temporal-ui.example.com'),
  path: z.string({ error: 'must be a file path (a string)' }).trim().min(1, 'must be a file path, not empty'),
  taskQueue: z
    .string({ error: 'must be a Temporal task queue name (a string)' })
    .regex(/^[^\s]{1,200}$/, 'must be a Temporal task queue name: 1-200 characters, no spaces'),
  temporalProfile: z
    .string({ error: 'must name a profile of your temporal.toml (a string)' })
    .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must name a profile of your temporal.toml: letters, digits, ".", "_", "-"'),
  budgetHeadroomPercent: numeric(z.number({ error: HEADROOM }).min(0, HEADROOM).max(50, HEADROOM)),
  // Shorter only: the guards that keep a write from outliving its attempt (activities/scheduled-call.ts,
  // activities/coexist.ts: no call starts within 30 s, a send within 20 s, of the attempt's timeout) assume 15 s.
  zimTimeoutMs: numeric(
    z.number({ error: ZIM_TIMEOUT }).int(ZIM_TIMEOUT).min(1_000, ZIM_TIMEOUT).max(15_000, ZIM_TIMEOUT)
  ),
  workflowHeapMb: numeric(
    z.number({ error: WORKFLOW_HEAP }).int(WORKFLOW_HEAP).min(96, WORKFLOW_HEAP).max(4096, WORKFLOW_HEAP)
  ),
  errorBudgetPercent: numeric(
    z
      .number({ error: 'must be a percentage from 0 to 100' })
      .min(0, 'must be a percentage from 0 to 100')
      .max(100, 'must be a percentage from 0 to 100')
  ),
  stepMs: numeric(z.number({ error: STEP }).min(0, STEP).max(60_000, STEP)),
  budgets: z.partialRecord(
    z.enum(BUDGET_ACTIONS, { error: `has an unknown Action; Actions: ${BUDGET_ACTIONS.join(', ')}` }),
    numeric(z.number({ error: BUDGET }).gt(0, BUDGET).max(10_000, BUDGET)),
    {
      error: `must be an object of Action: calls per second, e.g. {"ImportPeerMsg": 15}; Actions: ${BUDGET_ACTIONS.join(', ')}`,
    }
  ),
};
