import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** Debian's Chromium; never a browser a tool downloads. */
export const CHROMIUM = process.env.CHROMIUM_BINARY ?? '/usr/bin/chromium';

// Headless, and nothing that reaches out: no first-run, sync, component updates or QUIC probes.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Chromium {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a fresh profile, removed by close(). */
export async function launchChromium(viewport = { width: 1600, height: 1200 }): Promise<Chromium> {
  const profile = await mkdtemp(join(tmpdir(), 'obsnest-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    deviceScaleFactor: 1,
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
