/**
 * Launches the system's Chromium (Debian's `chromium` package) headless through playwright-core, with a fresh
 * profile each time. Playwright's own browser downloads are never used: the machines that run this reach Debian's
 * package mirrors, not Playwright's CDN.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_INSTALL_COMMAND = 'apt-get install -y --no-install-recommends chromium';

/** No network chatter of the browser's own (updates, sync, field trials), no GPU, no sandbox (root in CI). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export class ChromiumMissingError extends Error {
  constructor(readonly executablePath: string) {
    super(
      `Chromium not found at ${executablePath}. Install it (Debian/Ubuntu, as root): ` +
        `DEBIAN_FRONTEND=noninteractive ${CHROMIUM_INSTALL_COMMAND}; ` +
        'or set CHROMIUM_PATH to a Chromium or Chrome binary.'
    );
  }
}

/** `CHROMIUM_PATH` if set, else Debian's path. */
function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH?.trim() || DEFAULT_CHROMIUM_PATH;
}

/** The Chromium binary to use; throws ChromiumMissingError (which names the install command) when it is absent. */
export function requireChromium(executablePath = chromiumPath()): string {
  if (!existsSync(executablePath)) throw new ChromiumMissingError(executablePath);
  return executablePath;
}

export interface HeadlessChromium {
  context: BrowserContext;
  /** Closes the browser and deletes its profile. */
  close(): Promise<void>;
}

export async function launchHeadlessChromium(
  o: { executablePath?: string; viewport?: { width: number; height: number } } = {}
): Promise<HeadlessChromium> {
  const executablePath = requireChromium(o.executablePath);
  const profile = mkdtempSync(path.join(tmpdir(), 'zim-migrate-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: o.viewport ?? { width: 1440, height: 1000 },
    });
    return {
      context,
      async close() {
        await context.close().catch(() => undefined);
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}
