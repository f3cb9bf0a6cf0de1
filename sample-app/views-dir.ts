import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The `sample-app/views` directory, found by walking up from this file: it is next to it when
 * running from source (`sample-app/`), and three levels up once compiled
 * (`dist-sample/sample-app/`), since tsc does not copy templates.
 */
export function findViewsDir(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    const candidate = join(dir, 'sample-app', 'views');
    if (existsSync(join(candidate, 'layout.hbs'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`sample-app/views not found above ${fileURLToPath(from)}`);
    dir = parent;
  }
}
