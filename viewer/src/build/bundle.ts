import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { bundleIsStale, PAGE_ENTRY, PUBLIC_DIR } from './paths.js';

/**
 * Bundles the page (src/page, React and the Perses components and plugins) into
 * dist/public with esbuild: one app.js, its CSS and fonts, and index.html.
 *
 *   node viewer/dist/src/build/bundle.js
 */

export { PAGE_ENTRY, PUBLIC_DIR };

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Dashboards</title>
    <link rel="stylesheet" href="/assets/app.css" />
  </head>
  <body style="margin: 0">
    <div id="root"></div>
    <script type="module" src="/assets/app.js"></script>
  </body>
</html>
`;

/**
 * Perses' module-federation runtime loads plugins from a Perses server and, for them, shares
 * every library it knows by `require` (all 7000 icons of mdi-material-ui among them: 5 MB).
 * The viewer bundles its plugins, so the runtime is replaced by a stub that says so if called.
 */
const withoutRemotePlugins: Plugin = {
  name: 'without-remote-plugins',
  setup(build) {
    build.onLoad({ filter: /plugin-system[\\/]dist[\\/]remote[\\/]PluginRuntime\.js$/ }, () => ({
      contents: `
        const unavailable = () => { throw new Error('remote Perses plugins are not available in this viewer: its plugins are bundled'); };
        export const loadPlugin = async () => unavailable();
        export function usePluginRuntime() { return { pluginRuntime: undefined, loadPlugin: async () => unavailable() }; }
      `,
      loader: 'js',
    }));
  },
};

export interface BundleResult {
  readonly dir: string;
  /** Bytes of app.js. */
  readonly bytes: number;
  readonly metafile: Metafile;
}

export async function bundle(outDir: string = PUBLIC_DIR): Promise<BundleResult> {
  const assets = join(outDir, 'assets');
  await mkdir(assets, { recursive: true });
  const result = await build({
    entryPoints: { app: PAGE_ENTRY },
    outdir: assets,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: process.env.VIEWER_BUNDLE_MINIFY !== '0',
    sourcemap: true,
    metafile: true,
    jsx: 'automatic',
    // Perses' fetch helper reads Node's `global`.
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'file', '.png': 'file' },
    plugins: [withoutRemotePlugins],
    logLevel: 'warning',
  });
  await writeFile(join(outDir, 'index.html'), INDEX_HTML);
  const { size } = await stat(join(assets, 'app.js'));
  return { dir: outDir, bytes: size, metafile: result.metafile };
}

// `npm run bundle -w @obsnest/dashboards-viewer [-- --force]`: run by `npm test` and `npm run up`
// after the build, so the viewer starts at once; a bundle newer than the page's sources is kept.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!process.argv.includes('--force') && !bundleIsStale()) {
    console.log(`the page bundle in ${PUBLIC_DIR} is up to date`);
  } else {
    const result = await bundle();
    console.log(`bundled ${result.dir}: app.js ${(result.bytes / 1024 / 1024).toFixed(2)} MiB`);
  }
}
