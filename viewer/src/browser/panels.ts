import type { Page } from 'playwright-core';

/** What a Perses panel of the page shows, read from its DOM. */
export interface PanelState {
  readonly title: string;
  /** Non-blank pixels among a sample (one in 7) of the panel's canvases: ECharts draws time series, gauges and pies on one. */
  readonly paintedPixels: number;
  /** Series names of the legend (list or table legend), for panels that have one. */
  readonly legend: readonly string[];
  /** Rows of a table panel (a table without a canvas: not a table legend). */
  readonly tableRows: number;
  /** Text of the panel's content: a stat's number, a table's cells, "No data". */
  readonly text: string;
  /** The error the panel shows instead of its chart. */
  readonly error?: string;
  /** A skeleton in place of the chart: the panel has no data yet. */
  readonly loading: boolean;
  readonly noData: boolean;
}

/** Reads every panel of the dashboard on `page`, in page order. */
export function panelStates(page: Page): Promise<PanelState[]> {
  return page.$$eval('[data-testid="panel"]', (panels) =>
    panels.map((panel) => {
      const title = (panel.querySelector('header h6')?.textContent ?? '').trim();
      const content = panel.querySelector('figure') ?? panel;
      const canvases = Array.from(content.querySelectorAll('canvas'));
      let paintedPixels = 0;
      for (const canvas of canvases) {
        const context = canvas.getContext('2d');
        if (!context || canvas.width === 0 || canvas.height === 0) continue;
        const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
        // Alpha of every 7th pixel: enough to tell a drawn chart from an empty canvas, and cheap.
        for (let i = 3; i < pixels.length; i += 28) if ((pixels[i] as number) > 0) paintedPixels++;
      }
      const textOf = (element: Element) => (element.textContent ?? '').replace(/\s+/g, ' ').trim();
      const rows = Array.from(content.querySelectorAll('tbody tr'));
      const legend = [...Array.from(content.querySelectorAll('[role="listitem"]')), ...(canvases.length > 0 ? rows : [])]
        .map(textOf)
        .filter(Boolean);
      const alert = content.querySelector('[role="alert"]');
      const text = textOf(content);
      return {
        title,
        paintedPixels,
        legend,
        tableRows: canvases.length === 0 ? rows.length : 0,
        text: text.slice(0, 500),
        ...(alert ? { error: textOf(alert) } : {}),
        loading: content.querySelector('[aria-label="Loading..."]') !== null,
        noData: text === 'No data',
      };
    }),
  );
}

/** A panel that shows its data: no skeleton, no error, no "No data", and something drawn or written. */
export function showsData(state: PanelState): boolean {
  if (state.loading || state.noData || state.error !== undefined) return false;
  return state.paintedPixels > 0 || state.tableRows > 0 || state.text.length > 0;
}

/** Prometheus requests of a page still waiting for their answer, and when the last one ended. */
export interface QueryTracker {
  inFlight(): number;
  quietForMs(): number;
}

const tracked = new WeakMap<Page, QueryTracker>();

/**
 * Counts the page's requests to the viewer's `/api/v1` proxy. A page is tracked once, from its
 * first call; call it before `page.goto` so the first queries are counted.
 */
export function trackQueries(page: Page): QueryTracker {
  const existing = tracked.get(page);
  if (existing) return existing;
  const pending = new Set<unknown>();
  let last = Date.now();
  const isQuery = (url: string) => new URL(url).pathname.startsWith('/api/v1/');
  page.on('request', (request) => {
    if (isQuery(request.url())) pending.add(request);
  });
  const done = (request: { url(): string }) => {
    if (pending.delete(request)) last = Date.now();
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  const tracker = { inFlight: () => pending.size, quietForMs: () => (pending.size > 0 ? 0 : Date.now() - last) };
  tracked.set(page, tracker);
  return tracker;
}

/**
 * Waits until the page has no Prometheus query in flight for a second and a half (variables
 * resolved, panels re-queried with their values), no panel is loading (every one shows data, an
 * error or "No data"), and the states are the same twice in a row; then returns them. On timeout,
 * returns the last states seen so the caller reports what each panel shows.
 */
export async function settledPanels(page: Page, timeoutMs = 90_000): Promise<PanelState[]> {
  const queries = trackQueries(page);
  const deadline = Date.now() + timeoutMs;
  let previous = '';
  let states: PanelState[] = [];
  while (Date.now() < deadline) {
    states = await panelStates(page);
    const settled = queries.quietForMs() >= 1500 && states.length > 0 && states.every((state) => !state.loading);
    const signature = JSON.stringify(
      states.map(({ title, loading, noData, error, tableRows }) => [title, loading, noData, error, tableRows]),
    );
    if (settled && signature === previous) return states;
    previous = settled ? signature : '';
    await page.waitForTimeout(500);
  }
  return states;
}
