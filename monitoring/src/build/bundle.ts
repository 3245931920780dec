import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/**
 * Builds what `npm pack -w monitoring` ships (the `prepack` script): the CLI and the library as
 * ES module bundles in lib/, and the declarations of the public API in lib/types.
 *
 * `@obsnest/observability` is not on the registry, so the bundles inline the one part of it the
 * mixin reads, its metric contract: a module without dependencies. Everything else stays an
 * import of a registry dependency of this package (`yaml`, the Grafana foundation SDK).
 */

const MONITORING_DIR = fileURLToPath(new URL('../../../', import.meta.url));
const DIST_DIR = join(MONITORING_DIR, 'dist');
const LIB_DIR = join(MONITORING_DIR, 'lib');

const manifest = JSON.parse(readFileSync(join(MONITORING_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const DEPENDENCIES = Object.keys(manifest.dependencies);

/** A bare import is allowed in the bundles or the declarations if a dependency provides it. */
const isDependency = (specifier: string): boolean =>
  DEPENDENCIES.some((dependency) => specifier === dependency || specifier.startsWith(`${dependency}/`));
const isBuiltin = (specifier: string): boolean => specifier.startsWith('node:') || builtinModules.includes(specifier);

async function bundle(): Promise<void> {
  const result = await build({
    entryPoints: { cli: join(DIST_DIR, 'src', 'cli.js'), index: join(DIST_DIR, 'src', 'index.js') },
    outdir: LIB_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: DEPENDENCIES.flatMap((dependency) => [dependency, `${dependency}/*`]),
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path));
  const stray = [...new Set(imports)].filter((specifier) => !isDependency(specifier) && !isBuiltin(specifier));
  if (stray.length > 0) throw new Error(`the bundles import packages that are not dependencies: ${stray.join(', ')}`);
  const inlined = Object.keys(result.metafile.inputs).filter((input) => input.includes('observability'));
  console.log(`bundled lib/cli.js and lib/index.js; inlined from @obsnest/observability: ${inlined.join(', ') || 'nothing'}`);
}

const RELATIVE_IMPORT = /(?:from\s+|import\()\s*'(\.{1,2}\/[^']+)'/g;
const BARE_IMPORT = /(?:from\s+|import\()\s*'([^.'][^']*)'/g;

/** Copies the declarations reachable from index.d.ts into lib/types, keeping their layout. */
function copyDeclarations(): string[] {
  const copied = new Set<string>();
  const pending = [join(DIST_DIR, 'src', 'index.d.ts')];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (copied.has(file)) continue;
    copied.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, specifier] of text.matchAll(BARE_IMPORT)) {
      if (!isDependency(specifier as string) && !isBuiltin(specifier as string)) {
        throw new Error(`${relative(DIST_DIR, file)} refers to ${specifier}, which the package does not depend on`);
      }
    }
    for (const [, specifier] of text.matchAll(RELATIVE_IMPORT)) {
      pending.push(resolve(dirname(file), (specifier as string).replace(/\.js$/, '.d.ts')));
    }
  }
  for (const file of copied) {
    const target = join(LIB_DIR, 'types', relative(DIST_DIR, file));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target);
  }
  return [...copied].map((file) => relative(DIST_DIR, file)).sort();
}

export async function buildPackage(): Promise<void> {
  rmSync(LIB_DIR, { recursive: true, force: true });
  await bundle();
  const declarations = copyDeclarations();
  console.log(`copied ${declarations.length} declaration files to lib/types`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildPackage();
}
