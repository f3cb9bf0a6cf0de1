import { randomBytes } from 'node:crypto';

/** Injection token of the sample's admin token (a string). */
export const SAMPLE_ADMIN_TOKEN = Symbol('SAMPLE_ADMIN_TOKEN');

/** The cookie `GET /admin/output-cache/login?token=…` sets for a browser. */
export const ADMIN_COOKIE = 'oc_admin';

/**
 * The token that opens the cache dashboard: `ADMIN_TOKEN`, else a random one (printed at
 * start; a new one on every start).
 */
export function resolveAdminToken(env: NodeJS.ProcessEnv = process.env): {
  token: string;
  generated: boolean;
} {
  const fromEnv = env.ADMIN_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, generated: false };
  return { token: randomBytes(18).toString('base64url'), generated: true };
}

/** The start-up line that tells where the dashboard is and how to open it. */
export function adminDashboardNotice(token: string, port: number, env = process.env): string {
  const url = `http://localhost:${port}/admin/output-cache`;
  return env.ADMIN_TOKEN?.trim()
    ? `cache dashboard: ${url} (open ${url}/login?token=<ADMIN_TOKEN> once in the browser)`
    : `cache dashboard: ${url}/login?token=${token} (a random token for this run; set ADMIN_TOKEN to choose one)`;
}
