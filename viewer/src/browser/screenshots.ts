import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { launchChromium } from './chromium.js';
import { settledPanels, showsData, trackQueries } from './panels.js';

/**
 * One screenshot per dashboard of a running viewer (a live stack: `npm run up`), for the docs:
 *
 *   npm run screenshots -- [--url http://127.0.0.1:3001] [--out docs/dashboards] [--range 1h]
 *
 * Writes <uid>.png and screenshots.json: a digest of what each picture shows (groups, panel titles,
 * plugins and positions), so a test tells when a dashboard changed in a way its picture no longer
 * matches. Refuses to picture a dashboard whose panels do not all show data, unless --allow-empty.
 */

export const MANIFEST = 'screenshots.json';

interface DashboardShape {
  readonly spec: {
    readonly panels: Readonly<
      Record<string, { readonly spec: { readonly display: { readonly name: string }; readonly plugin: { readonly kind: string } } }>
    >;
    readonly layouts: readonly {
      readonly spec: {
        readonly display?: { readonly title?: string };
        readonly items: readonly { x: number; y: number; width: number; height: number; content: { $ref: string } }[];
      };
    }[];
  };
}

/**
 * sha256 of what a picture of the dashboard shows: group titles, and each panel's title, plugin
 * and place. Queries are left out: a changed selector changes no picture.
 */
export function dashboardDigest(dashboard: DashboardShape): string {
  const shape = dashboard.spec.layouts.map((layout) => ({
    group: layout.spec.display?.title ?? '',
    items: layout.spec.items.map(({ x, y, width, height, content }) => {
      const panel = dashboard.spec.panels[content.$ref.replace('#/spec/panels/', '')];
      return [x, y, width, height, panel?.spec.display.name, panel?.spec.plugin.kind];
    }),
  }));
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex');
}

interface Summary {
  readonly uid: string;
  readonly title: string;
}

export async function takeScreenshots(options: { url: string; out: string; range?: string; allowEmpty?: boolean }): Promise<string[]> {
  const base = options.url.replace(/\/$/, '');
  const dashboards = (await (await fetch(`${base}/viewer/dashboards`)).json()) as Summary[];
  await mkdir(options.out, { recursive: true });
  const chromium = await launchChromium({ width: 1600, height: 2800 });
  const manifest: Record<string, string> = {};
  const written: string[] = [];
  try {
    for (const { uid, title } of dashboards) {
      const page = await chromium.context.newPage();
      page.setDefaultTimeout(120_000);
      trackQueries(page);
      // Without the refresh, no panel shows a refetch spinner in the picture.
      const query = `?refresh=0s${options.range ? `&start=${encodeURIComponent(options.range)}` : ''}`;
      await page.goto(`${base}/d/${encodeURIComponent(uid)}${query}`);
      const states = await settledPanels(page);
      // A table with no row and no message is a list with nothing in it (no alert firing): fine.
      const emptyTable = (state: (typeof states)[number]) =>
        !state.loading && !state.noData && state.error === undefined && state.paintedPixels === 0 && state.text === '';
      const empty = states.filter((state) => !showsData(state) && !emptyTable(state)).map((state) => state.title);
      if (empty.length > 0 && !options.allowEmpty) {
        throw new Error(
          `${title}: panels without data: ${empty.join(', ')} (is traffic reaching the stack? --allow-empty takes the picture anyway)`,
        );
      }
      // Down to the last panel: the page itself is as tall as the window.
      const bottom = await page.$$eval('[data-testid="panel"]', (panels) =>
        Math.max(...panels.map((p) => p.getBoundingClientRect().bottom)),
      );
      const path = join(options.out, `${uid}.png`);
      await page.screenshot({
        path,
        animations: 'disabled',
        timeout: 180_000,
        clip: { x: 0, y: 0, width: 1600, height: Math.ceil(bottom) + 16 },
      });
      const served = (await (await fetch(`${base}/viewer/dashboards/${encodeURIComponent(uid)}`)).json()) as DashboardShape;
      manifest[uid] = dashboardDigest(served);
      written.push(path);
      await page.close();
    }
  } finally {
    await chromium.close();
  }
  await writeFile(join(options.out, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return written;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:3001' },
      out: { type: 'string', default: 'docs/dashboards' },
      range: { type: 'string' },
      'allow-empty': { type: 'boolean', default: false },
    },
  });
  takeScreenshots({ url: values.url, out: resolve(values.out), range: values.range, allowEmpty: values['allow-empty'] }).then(
    (paths) => {
      for (const path of paths) console.log(`wrote ${path}`);
    },
    (error: unknown) => {
      console.error(`screenshots: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
