import {
  Controller,
  Get,
  Header,
  Injectable,
  type NestInterceptor,
  Param,
  Render,
  Req,
  Res,
  UseInterceptors,
  type CallHandler,
  type ExecutionContext,
} from '@nestjs/common';
import { wildcard } from '../helpers/test-app.js';
import type { Request, Response } from 'express';
import { map } from 'rxjs';
import {
  Cacheable,
  CacheableComponent,
  type ComponentContext,
  placeComponent,
  ViewComponent,
  type ViewComponentRenderer,
} from '../../lib/index.js';

/** Render counts and switches of the attack routes. */
export const attack = {
  renders: 0,
  /** Renders of `/attack/gated` wait for this. */
  gate: Promise.resolve() as Promise<void>,
};

/** Headers attackers send that Express itself never reads (or reads only under `trust proxy`). */
export const UNKEYED_HEADERS = [
  'x-forwarded-host',
  'x-forwarded-proto',
  'forwarded',
  'x-original-url',
  'x-rewrite-url',
] as const;

/** Sets a cookie once the handler returned (an app interceptor inside the cache's). */
@Injectable()
export class CookieInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    const res = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(
      map((body: unknown) => {
        res.cookie('seen', 'interceptor');
        return body;
      }),
    );
  }
}

/** A cacheable component that (wrongly) sets a cookie: it is frozen into the page. */
@CacheableComponent()
@ViewComponent('CookieBanner')
@Injectable()
export class CookieBannerComponent implements ViewComponentRenderer {
  render(_args: unknown, { res }: ComponentContext) {
    (res as Response).cookie('banner', 'shown');
    return '<aside>we use cookies</aside>';
  }
}

/** A hole that sets its own request's cookie (as csrf-csrf does with its token cookie). */
@ViewComponent('Visitor')
@Injectable()
export class VisitorComponent implements ViewComponentRenderer {
  render(_args: unknown, { req, res }: ComponentContext) {
    const who = String((req as Request).headers['x-user'] ?? 'anon');
    (res as Response).cookie('visitor', who);
    return `<b>visitor ${who}</b>`;
  }
}

export const attackComponents = [CookieBannerComponent, VisitorComponent];

/**
 * Routes that reflect what an attacker controls. `varyBy: []` keeps them free of whatever vary-by
 * resolvers a suite registers, unless a route declares one.
 */
@Controller('attack')
export class AttackController {
  /** Reflects everything Express derives from the request: scheme, host, URL, method, query. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('origin')
  origin(@Req() req: Request) {
    const n = ++attack.renders;
    return (
      `<a href="${req.protocol}://${req.host}${req.originalUrl}">${req.method} ${req.path} ` +
      `${JSON.stringify(req.query)} secure=${req.secure} hostname=${req.hostname}</a> #${n}`
    );
  }

  /** Keys only `q` (an allow-list): the route promises to read nothing else of the query. */
  @Cacheable({ ttl: 60, varyBy: [], query: ['q'] })
  @Get('search')
  search(@Req() req: Request) {
    return `q=${JSON.stringify(req.query.q)} #${++attack.renders}`;
  }

  /** Reflects X-Forwarded-Host, and declares it: a vary-by on the header puts it in the key. */
  @Cacheable({ ttl: 60, varyBy: ['forwardedHost'] })
  @Get('declared')
  declared(@Req() req: Request) {
    return `<link href="//${String(req.headers['x-forwarded-host'])}/app.js"> #${++attack.renders}`;
  }

  /** Reflects X-Foo and says so with `Vary: X-Foo`, which the key does not hold. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('vary-unkeyed')
  @Header('Vary', 'X-Foo')
  varyUnkeyed(@Req() req: Request) {
    return `foo=${String(req.headers['x-foo'])} #${++attack.renders}`;
  }

  /** The same, with the header in the key. */
  @Cacheable({ ttl: 60, varyBy: ['foo'] })
  @Get('vary-keyed')
  @Header('Vary', 'X-Foo')
  varyKeyed(@Req() req: Request) {
    return `foo=${String(req.headers['x-foo'])} #${++attack.renders}`;
  }

  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('vary-star')
  @Header('Vary', '*')
  varyStar() {
    return `star #${++attack.renders}`;
  }

  /** Reflects two headers that are both in the key (vary-by `a` and `b`). */
  @Cacheable({ ttl: 60, varyBy: ['a', 'b'] })
  @Get('two-vary')
  twoVary(@Req() req: Request) {
    return `a=${JSON.stringify(req.headers['x-a'])} b=${JSON.stringify(req.headers['x-b'])} #${++attack.renders}`;
  }

  /** Reflects the set of values `X-List` names (vary-by `list`). */
  @Cacheable({ ttl: 60, varyBy: ['list'] })
  @Get('list-vary')
  listVary(@Req() req: Request) {
    const list =
      typeof req.headers['x-list'] === 'string' ? req.headers['x-list'].split('|') : null;
    return `list=${JSON.stringify(list)} #${++attack.renders}`;
  }

  /** A path parameter, reflected (`%2F` decodes into it). */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('item/:id')
  item(@Param('id') id: string, @Req() req: Request) {
    return `item ${id} at ${req.originalUrl} #${++attack.renders}`;
  }

  /** The signed-in page of web cache deception: any suffix, `.css` included, reaches it. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get(`account/${wildcard('rest')}`)
  account(@Req() req: Request) {
    return `account of ${String(req.headers.cookie ?? 'nobody')} at ${req.originalUrl} #${++attack.renders}`;
  }

  /** Under an `exclude` pattern in the suites that set one. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('private/page')
  privatePage(@Req() req: Request) {
    return `private at ${req.originalUrl} #${++attack.renders}`;
  }

  /** Sets a cookie in the handler. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('cookie/handler')
  cookieInHandler(@Res({ passthrough: true }) res: Response) {
    res.cookie('sid', `handler-${++attack.renders}`);
    return `handler #${attack.renders}`;
  }

  /** An app interceptor sets the cookie after the handler returned. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('cookie/interceptor')
  @UseInterceptors(CookieInterceptor)
  cookieInInterceptor() {
    return `interceptor #${++attack.renders}`;
  }

  /** No cookie of its own: middleware of the suite adds one at the end or at writeHead. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('cookie/middleware')
  cookieInMiddleware() {
    return `middleware #${++attack.renders}`;
  }

  /** A cacheable component sets the cookie while the page is composed. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('cookie/component')
  cookieInComponent() {
    return `<main>${placeComponent('CookieBanner')}</main> #${++attack.renders}`;
  }

  /** A hole sets its own request's cookie: the page is stored, the cookie never. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('cookie/hole')
  cookieInHole() {
    return `<main>${placeComponent('Visitor')}</main> #${++attack.renders}`;
  }

  /** Sets a cookie for the user of the request, after waiting on `attack.gate`. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('gated-cookie')
  async gatedCookie(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const n = ++attack.renders;
    await attack.gate;
    res.cookie('sid', `for-${String(req.headers['x-user'])}`);
    return `gated #${n}`;
  }

  /** A form with a CSRF hole, rendered while `attack.gate` holds. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('form')
  @Render('donut-form')
  async form() {
    ++attack.renders;
    await attack.gate;
    return {};
  }

  /** Reflects its `review` query raw into the page: a marker imitation stays text. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('review')
  review(@Req() req: Request) {
    const review = String(req.query.review ?? '');
    return `<p>${review}</p>${placeComponent('Visitor')} #${++attack.renders}`;
  }

  /** Not cached: shows one of its own real markers, escaped, so a test can replay it elsewhere. */
  @Get('leak')
  leak() {
    const marker = placeComponent('Visitor');
    return `<pre>${marker.replace(/</g, '&lt;')}</pre>${marker}`;
  }

  /** Plain page for HEAD and store tests. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('page')
  page() {
    return `<p>page body ${'x'.repeat(200)}</p> #${++attack.renders}`;
  }

  /** A page with a hole, for HEAD. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('holed')
  holed() {
    return `<p>holed</p>${placeComponent('Visitor')} #${++attack.renders}`;
  }

  /** A plain page rendered while `attack.gate` holds. */
  @Cacheable({ ttl: 60, varyBy: [] })
  @Get('gated')
  async gated() {
    const n = ++attack.renders;
    await attack.gate;
    return `<p>gated ${'y'.repeat(200)}</p> #${n}`;
  }
}
