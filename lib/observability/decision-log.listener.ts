import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  type CacheDecision,
  type CacheEviction,
  OutputCacheEvents,
} from './output-cache-events.js';

/**
 * The decision log: every decision of the request pipeline and every eviction, one line each at
 * debug level through Nest's `Logger` (context `OutputCache`), e.g.
 * `hit Catalog/category /c/shoes 0.4ms`, `not-stored (set-cookie) Account/page /account`,
 * `eviction (tag) 3 entries: Product:42`. When debug is off (`Logger.isLevelEnabled('debug')`
 * is false) a decision costs one check and no string is built.
 *
 * @example
 * ```ts
 * const app = await NestFactory.create(AppModule, {
 *   logger: ['log', 'warn', 'error', 'debug'], // the decision log shows
 * });
 * ```
 */
@Injectable()
export class DecisionLogListener implements OnModuleDestroy {
  protected readonly logger = new Logger('OutputCache');
  private readonly unlisten: () => void;

  constructor(events: OutputCacheEvents) {
    this.unlisten = events.listen({
      decision: (decision) => {
        if (Logger.isLevelEnabled('debug')) this.logger.debug(describeDecision(decision));
      },
      eviction: (eviction) => {
        if (Logger.isLevelEnabled('debug')) this.logger.debug(describeEviction(eviction));
      },
    });
  }

  onModuleDestroy(): void {
    this.unlisten();
  }
}

/**
 * One decision as a log line: result, reason in parentheses, route id, url, duration.
 *
 * @example
 * ```ts
 * describeDecision({ result: 'bypass', reason: 'session', route: 'Cart/show', url: '/cart' });
 * // 'bypass (session) Cart/show /cart'
 * ```
 */
export function describeDecision(decision: CacheDecision): string {
  let line = decision.result;
  if (decision.reason !== undefined) line += ` (${decision.reason})`;
  line += ` ${decision.route}`;
  if (decision.url !== undefined) line += ` ${decision.url}`;
  if (decision.durationMs !== undefined) line += ` ${decision.durationMs.toFixed(1)}ms`;
  return line;
}

/**
 * One eviction as a log line: cause, soft/remote, how many entries, what.
 *
 * @example
 * ```ts
 * describeEviction({ cause: 'tag', values: ['Product:42'], count: 3 });
 * // 'eviction (tag) 3 entries: Product:42'
 * ```
 */
export function describeEviction(eviction: CacheEviction): string {
  let line = `eviction (${eviction.cause})`;
  if (eviction.soft) line += ' soft';
  if (eviction.remote) line += ' remote';
  if (eviction.count !== undefined) {
    line += ` ${eviction.count} ${eviction.count === 1 ? 'entry' : 'entries'}`;
  }
  if (eviction.values.length > 0) {
    const shown = eviction.values.slice(0, 10).join(', ');
    line += `: ${shown}${eviction.values.length > 10 ? `, ... (${eviction.values.length})` : ''}`;
  }
  return line;
}
