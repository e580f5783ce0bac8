/**
 * Opens a workflow's page in the Temporal UI the way a person would (a real browser, the page's own requests, a
 * click on a tab) and saves a screenshot once it has rendered, returning the text the page showed so callers can
 * check it.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { launchHeadlessChromium } from './chromium';

export interface CaptureOptions {
  /** The UI's base URL, e.g. http://localhost:8233. */
  uiUrl: string;
  namespace: string;
  workflowId: string;
  /** Where the PNG goes (folders are created). */
  outPath: string;
  /**
   * The tab of the workflow page to open, by its label. Default "User Metadata": summary, details and the live
   * progress table (current details). `null` keeps the UI's default tab (the timeline).
   */
  tab?: string | null;
  /** Texts that must be on the page, in any frame, before the screenshot (the workflow id always must). */
  waitForText?: readonly string[];
  timeoutMs?: number;
  executablePath?: string;
}

export interface CapturedPage {
  url: string;
  outPath: string;
  /** The page's visible text when the screenshot was taken, with that of its frames (rendered markdown). */
  text: string;
}

export const DEFAULT_TAB = 'User Metadata';

export function workflowPageUrl(uiUrl: string, namespace: string, workflowId: string): string {
  const base = uiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export class PageNotRenderedError extends Error {}

export async function captureWorkflowPage(o: CaptureOptions): Promise<CapturedPage> {
  const timeout = o.timeoutMs ?? 60_000;
  const tab = o.tab === undefined ? DEFAULT_TAB : o.tab;
  const url = workflowPageUrl(o.uiUrl, o.namespace, o.workflowId);
  const browser = await launchHeadlessChromium({ executablePath: o.executablePath });
  try {
    const page = await browser.context.newPage();
    page.setDefaultTimeout(timeout);
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    // The UI is a single-page app: the HTML arrives empty and the workflow is fetched afterwards, so wait for
    // what a person would look for rather than for a load event.
    await waitForText(page, o.workflowId, timeout, url);
    if (tab) await page.getByRole('tab', { name: tab }).first().click();
    for (const text of o.waitForText ?? []) await waitForText(page, text, timeout, url);
    // Let requests started by the render (history, metadata query) settle; the UI keeps polling, so cap it.
    await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => undefined);
    mkdirSync(path.dirname(path.resolve(o.outPath)), { recursive: true });
    await page.screenshot({ path: o.outPath, fullPage: true });
    return { url: page.url(), outPath: path.resolve(o.outPath), text: await visibleText(page) };
  } finally {
    await browser.close();
  }
}

/** The UI renders markdown (summaries, details) in iframes, whose text the page's own body does not include. */
async function visibleText(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((frame) =>
      frame
        .locator('body')
        .innerText({ timeout: 1_000 })
        .catch(() => '')
    )
  );
  return texts.filter(Boolean).join('\n');
}

async function waitForText(page: Page, text: string, timeoutMs: number, url: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = await visibleText(page);
    if (shown.includes(text)) return;
    if (Date.now() > deadline)
      throw new PageNotRenderedError(
        `${url} did not show "${text}" within ${timeoutMs} ms. The page showed:\n${shown.slice(0, 3_000)}`
      );
    await page.waitForTimeout(250);
  }
}
