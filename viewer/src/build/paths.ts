import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** viewer/, from viewer/dist/src/build. */
const VIEWER_DIR = fileURLToPath(new URL('../../../', import.meta.url));
/** The page's entry, bundled by bundle.ts. */
export const PAGE_ENTRY = join(VIEWER_DIR, 'src', 'page', 'main.tsx');
/** The bundle: index.html and assets/. */
export const PUBLIC_DIR = join(VIEWER_DIR, 'dist', 'public');
