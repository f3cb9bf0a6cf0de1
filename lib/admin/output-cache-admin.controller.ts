import {
  BadRequestException,
  Body,
  Get,
  Headers,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  Query,
  Req,
  Res,
  UnsupportedMediaTypeException,
  UseGuards,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import {
  parseEntriesQuery,
  parseKeyQuery,
  parsePurgeBody,
  parsePurgeForm,
} from './admin-request.parser.js';
import { type DashboardModel, renderDashboard } from './dashboard.renderer.js';
import { OutputCacheAdminService } from './output-cache-admin.service.js';
import { SameOriginGuard } from './same-origin.guard.js';

/**
 * What the controller reads of the request and response: methods Express's and Fastify's have
 * alike (Fastify's request has no `path`: it is the URL's path there).
 */
interface AdminRequest {
  path?: string;
  url: string;
  query: Record<string, unknown>;
}
interface AdminResponse {
  header(name: string, value: string): AdminResponse;
  status(code: number): AdminResponse;
  send(body?: string): void;
}

function pathOf(req: AdminRequest): string {
  return req.path ?? req.url.split('?', 1)[0];
}

/** The query fields the dashboard adds after a purge (the redirect's notice). */
const NOTICE_FIELDS = ['purged', 'by', 'soft'];

/**
 * The admin endpoints. Not mounted as it is: `OutputCacheAdminModule.forRoot()` makes a
 * subclass per module instance with the configured path and the app's guard.
 *
 * @example
 * ```ts
 * // GET /admin/output-cache/entries?tag=Product:42&take=20
 * ```
 */
export class OutputCacheAdminController {
  // Explicit: the base class has no class decorator, so TypeScript emits no parameter types.
  constructor(@Inject(OutputCacheAdminService) protected readonly admin: OutputCacheAdminService) {}

  /** The dashboard (HTML). */
  @Get()
  async dashboard(@Req() req: AdminRequest, @Res() res: AdminResponse): Promise<void> {
    const { notice, rest } = splitNotice(req.query);
    const query = parseEntriesQuery(rest, this.admin.options.maxTake);
    const [page, health] = await Promise.all([
      this.admin.entries(query).catch((error: unknown) => ({
        error: error instanceof Error ? error.message : String(error),
      })),
      this.admin.health(),
    ]);
    const nonce = randomBytes(16).toString('base64');
    const model: DashboardModel = {
      base: pathOf(req).replace(/\/+$/, ''),
      query,
      maxTake: this.admin.options.maxTake,
      stats: this.admin.stats(),
      timeline: this.admin.timeline(),
      health,
      page,
      notice,
      nonce,
    };
    res.header(
      'Content-Security-Policy',
      `default-src 'none'; style-src 'nonce-${nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    res.header('Content-Type', 'text/html; charset=utf-8');
    res.header('Cache-Control', 'no-store');
    res.header('X-Content-Type-Options', 'nosniff');
    res.header('Referrer-Policy', 'same-origin');
    res.status(200).send(renderDashboard(model));
  }

  /** `GET <path>/entries?route=&tag=&prefix=&skip=&take=`: a page of entries. */
  @Get('entries')
  entries(@Query() query: Record<string, unknown>) {
    return this.admin.entries(parseEntriesQuery(query, this.admin.options.maxTake));
  }

  /** `GET <path>/entry?key=...`: one entry with its headers (404 when absent). */
  @Get('entry')
  async entry(@Query() query: Record<string, unknown>) {
    const found = await this.admin.entry(parseKeyQuery(query));
    if (!found) throw new NotFoundException('no entry under this key (evicted or expired?)');
    return found;
  }

  /** `POST <path>/purge` with `{"tag": "Product:42", "soft": true}` (JSON). */
  @Post('purge')
  @HttpCode(200)
  @UseGuards(SameOriginGuard)
  async purge(@Headers('content-type') type: string | undefined, @Body() body: unknown) {
    if (!/^application\/json\b/i.test(type ?? '')) {
      throw new UnsupportedMediaTypeException(
        'POST a JSON body (Content-Type: application/json) such as {"tag": "Product:42"}',
      );
    }
    const request = parsePurgeBody(body);
    const purged = await this.admin.purge(request);
    return { purged, by: request.by, values: request.values, soft: request.soft };
  }

  /** The dashboard's purge forms: purges, then redirects back to the dashboard (303). */
  @Post('dashboard/purge')
  @UseGuards(SameOriginGuard)
  async purgeForm(
    @Req() req: AdminRequest,
    @Res() res: AdminResponse,
    @Headers('content-type') type: string | undefined,
    @Body() body: unknown,
  ): Promise<void> {
    if (!/^application\/x-www-form-urlencoded\b/i.test(type ?? '')) {
      throw new UnsupportedMediaTypeException(
        'the dashboard posts application/x-www-form-urlencoded',
      );
    }
    const request = parsePurgeForm(body);
    const purged = await this.admin.purge(request);
    const base = pathOf(req).replace(/\/dashboard\/purge\/?$/, '');
    const notice = new URLSearchParams({ purged: String(purged), by: request.by });
    if (request.soft) notice.set('soft', '1');
    const back = request.back ? `${request.back}&` : '?';
    // Not res.redirect(): Express takes (status, url), Fastify (url, status).
    res.status(303).header('Location', `${base}${back}${notice.toString()}`).send();
  }

  /** `GET <path>/stats`: the counters (`OutputCacheProvider.stats()`). */
  @Get('stats')
  stats(@Query() query: Record<string, unknown>) {
    noQuery(query);
    return this.admin.stats();
  }

  /** `GET <path>/timeline`: hits and misses per minute, the last hour. */
  @Get('timeline')
  timeline(@Query() query: Record<string, unknown>) {
    noQuery(query);
    return { minutes: this.admin.timeline() };
  }

  /** `GET <path>/health`: 200 when the store answers and the breaker is closed, else 503. */
  @Get('health')
  async health(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) res: AdminResponse,
  ) {
    noQuery(query);
    const health = await this.admin.health();
    if (!health.ok) res.status(503);
    return health;
  }
}

function noQuery(query: Record<string, unknown>): void {
  const names = Object.keys(query);
  if (names.length > 0) {
    throw new BadRequestException(
      `unknown query field ${names.map((n) => `"${n}"`).join(', ')}; this endpoint takes none`,
    );
  }
}

/** Splits the redirect's notice (`purged`, `by`, `soft`) from the listing's query. */
function splitNotice(query: Record<string, unknown>): {
  notice: DashboardModel['notice'];
  rest: Record<string, unknown>;
} {
  const rest: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    if (!NOTICE_FIELDS.includes(name)) rest[name] = value;
  }
  const purged = Number(query.purged);
  const by = query.by;
  // Only a count and a known selector are shown back: the notice reflects no free text.
  if (
    !Number.isInteger(purged) ||
    purged < 0 ||
    typeof by !== 'string' ||
    !['key', 'route', 'tag', 'prefix', 'all'].includes(by)
  ) {
    return { notice: undefined, rest };
  }
  return { notice: { purged, by, soft: query.soft === '1' }, rest };
}
