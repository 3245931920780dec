import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** viewer/, from viewer/dist/src/build. */
const VIEWER_DIR = fileURLToPath(new URL('../../../', import.meta.url));
/** The page's entry, bundled by bundle.ts. */
export const PAGE_ENTRY = join(VIEWER_DIR, 'src', 'page', 'main.tsx');
/** The bundle: index.html and assets/. */
export const PUBLIC_DIR = join(VIEWER_DIR, 'dist', 'public');

/** No bundle yet, or one older than a source file of the page. */
export function bundleIsStale(): boolean {
  const index = join(PUBLIC_DIR, 'index.html');
  if (!existsSync(index)) return true;
  const pageDir = join(PAGE_ENTRY, '..');
  if (!existsSync(pageDir)) return false;
  const built = statSync(index).mtimeMs;
  return readdirSync(pageDir).some((file) => statSync(join(pageDir, file)).mtimeMs > built);
}
