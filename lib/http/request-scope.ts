import { type CallHandler, Inject, Injectable } from '@nestjs/common';
import { Observable } from 'rxjs';
import { PageComposer } from '../components/page-composer.js';
import {
  OutputCacheRequestContext,
  outputCacheContext,
} from '../display-control/request-context.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { HttpPlatform } from './platform/http-platform.js';

/**
 * The per-request context (DisplayControl's tags, placed components) and running code inside it.
 * Nest renders an `@Render` view after the handler's observable completes, outside the context
 * the handler ran in, so the response's view rendering is wrapped to run inside it too.
 */
@Injectable()
export class RequestScope {
  constructor(
    private readonly platform: HttpPlatform,
    private readonly composer: PageComposer,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOutputCacheOptions,
  ) {}

  /** A context for one request; `capturing` when its page is being rendered for storing. */
  create(req: any, res: any, routeId: string, capturing: boolean): OutputCacheRequestContext {
    const ctx = new OutputCacheRequestContext(capturing, req, res, routeId);
    ctx.composer = this.composer;
    ctx.varyBy = this.options.varyBy;
    this.platform.wrapRender(res, (render) => outputCacheContext.run(ctx, render));
    return ctx;
  }

  /** Runs the route handler inside `ctx`. */
  handle(ctx: OutputCacheRequestContext, next: CallHandler): Observable<unknown> {
    return new Observable<unknown>((subscriber) =>
      outputCacheContext.run(ctx, () => next.handle().subscribe(subscriber)),
    );
  }
}
