// @ts-check
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ENV_EXAMPLE, loadSections, referenceRows, renderEnvExample } from '../env-reference.mjs';
import { API_VARIABLES_READ, STACK_ENV } from '../stack/schema.mjs';

const root = new URL('../../', import.meta.url);
const sections = await loadSections();
const rows = referenceRows(sections);

/**
 * The variable rows of DEPLOYMENT.md's configuration reference, each with the `###` heading it
 * stands under (its category).
 */
function documentedRows() {
  const doc = readFileSync(new URL('DEPLOYMENT.md', root), 'utf8');
  const reference = doc.slice(
    doc.indexOf('## Configuration reference'),
    doc.indexOf('\n## ', doc.indexOf('## Configuration reference') + 1),
  );
  /** @type {{ name: string, category: string, requirement: string, default: string, usedBy: string }[]} */
  const found = [];
  let category = '';
  for (const line of reference.split('\n')) {
    const heading = /^### (.+)$/.exec(line);
    if (heading) category = /** @type {string} */ (heading[1]).trim();
    const row = /^\| `([A-Z][A-Z0-9_]*)` +\|(.*)\|$/.exec(line);
    if (!row) continue;
    const cells = /** @type {string} */ (row[2]).split('|').map((c) => c.trim());
    if (cells.length < 4) continue; // the secrets table has two columns
    found.push({
      name: /** @type {string} */ (row[1]),
      category,
      requirement: /** @type {string} */ (cells[0]),
      default: /** @type {string} */ (cells[1]),
      usedBy: /** @type {string} */ (cells[2]),
    });
  }
  return found;
}

describe('configuration reference', () => {
  it('.env.example is both schemas, rendered: the API section, then the stack section', () => {
    assert.equal(readFileSync(ENV_EXAMPLE, 'utf8'), renderEnvExample(sections), 'run `npm run env:example` after changing a schema');
    const text = readFileSync(ENV_EXAMPLE, 'utf8');
    assert.ok(text.indexOf('# API (') < text.indexOf('# Stack and compose ('));
    for (const row of rows) assert.match(text, new RegExp(`^#? ?${row.name}=`, 'm'), row.name);
  });

  it('DEPLOYMENT.md documents every variable once, under its category, with its requirement, default and users', () => {
    const documented = documentedRows();
    assert.deepEqual(documented.map((d) => d.name).sort(), rows.map((r) => r.name).sort(), 'the same variables, each once');
    for (const row of rows) {
      const doc = /** @type {(typeof documented)[number]} */ (documented.find((d) => d.name === row.name));
      assert.equal(doc.category, row.category, `${row.name}: category`);
      assert.match(doc.requirement, new RegExp(`^${row.requirement}\\b`), `${row.name}: requirement`);
      assert.equal(/\bsecret\b/.test(doc.requirement), row.secret, `${row.name}: marked secret exactly when it is one`);
      if (row.default === undefined) assert.match(doc.default, /^(none|unset)\b/, `${row.name}: has no default`);
      else assert.ok(doc.default.startsWith(`\`${row.default}\``), `${row.name}: default ${row.default}, documented as ${doc.default}`);
      assert.equal(doc.usedBy, row.usedBy.join(', '), `${row.name}: used by`);
    }
  });

  it('keeps each variable in one schema: the API holds what the API reads, the stack the rest', () => {
    const [api] = sections;
    const apiNames = Object.keys(/** @type {NonNullable<typeof api>} */ (api).variables);
    for (const name of Object.keys(STACK_ENV)) assert.ok(!apiNames.includes(name), `${name} is in both schemas`);
    for (const row of rows.filter((r) => r.section === 'API'))
      assert.ok(row.usedBy.includes('api'), `${row.name} in the API's schema is not read by the API`);
    for (const row of rows.filter((r) => r.section !== 'API')) assert.ok(!row.usedBy.includes('api'), `${row.name} is read by the API`);
    const readByStack = rows.filter((r) => r.section === 'API' && r.usedBy.includes('stack')).map((r) => r.name);
    assert.deepEqual(readByStack.sort(), [...API_VARIABLES_READ].sort(), 'API variables marked "stack" are those the stack reads');
  });

  it('defines every variable docker-compose.yml substitutes', () => {
    const compose = readFileSync(new URL('docker-compose.yml', root), 'utf8');
    const used = new Set([...compose.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => /** @type {string} */ (m[1])));
    assert.ok(used.size > 10, 'found the substitutions');
    for (const name of used)
      assert.ok(
        rows.some((r) => r.name === name),
        `${name} (docker-compose.yml) is in no schema`,
      );
  });
});
