import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { dashboardDigest, MANIFEST } from '../src/browser/screenshots.js';
import { defaultDashboardsDir, loadDashboards } from '../src/server/dashboards.js';

/** The pictures of the docs: one per dashboard, taken since its panels last changed, shown in both docs. */

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PICTURES = join(REPO_ROOT, 'docs', 'dashboards');
const dashboards = loadDashboards(defaultDashboardsDir());

describe('dashboard pictures in the docs', () => {
  it('exist for every dashboard as 1600 px wide PNGs', () => {
    assert.equal(dashboards.length, 3);
    for (const dashboard of dashboards) {
      const file = join(PICTURES, `${dashboard.metadata.name}.png`);
      assert.ok(existsSync(file), `${file} is missing: run npm run screenshots against a live stack`);
      const png = readFileSync(file);
      assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG', file);
      assert.equal(png.readUInt32BE(16), 1600, `${file}: width`);
    }
  });

  it('show the dashboards as they are now: groups, panel titles, plugins and places', () => {
    const manifest = JSON.parse(readFileSync(join(PICTURES, MANIFEST), 'utf8')) as Record<string, string>;
    for (const dashboard of dashboards) {
      const uid = dashboard.metadata.name;
      assert.equal(
        manifest[uid],
        dashboardDigest(dashboard as unknown as Parameters<typeof dashboardDigest>[0]),
        `docs/dashboards/${uid}.png predates a change of its dashboard: run npm run screenshots against a live stack`,
      );
    }
  });

  it('are shown in README.md and MONITORING.md', () => {
    for (const doc of ['README.md', 'MONITORING.md']) {
      const text = readFileSync(join(REPO_ROOT, doc), 'utf8');
      for (const dashboard of dashboards) {
        assert.ok(
          text.includes(`](docs/dashboards/${dashboard.metadata.name}.png)`),
          `${doc} shows no picture of ${dashboard.metadata.name}`,
        );
      }
    }
  });
});
