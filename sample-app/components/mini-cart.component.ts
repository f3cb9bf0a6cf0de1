import { Inject, Injectable } from '@nestjs/common';
import {
  type ComponentContext,
  ViewComponent,
  type ViewComponentRenderer,
} from '../../lib/index.js';
import { CartService } from '../cart/cart.service.js';
import { currencyOf } from '../common/currency.js';
import { escapeHtml } from './html.js';
import { type ResolvedSampleAppOptions, SAMPLE_APP_OPTIONS } from '../sample-app.options.js';

/** `SAMPLE_FAULTS=1` lets a request ask for injected faults (`x-sample-fault`): the soak uses it. */
const FAULTS_ENABLED = process.env.SAMPLE_FAULTS === '1';

export interface MiniCartArgs {
  /** Also show the cart's total. */
  showTotal?: boolean;
}

/**
 * The header's cart badge, from the visitor's `cart` cookie. A hole (not cacheable): rendered
 * for every response, also when the page around it comes from the cache, so every visitor sees
 * their own cart on the same cached page.
 */
@ViewComponent({ name: 'MiniCart', fallback: '<a class="cart" href="/cart">Cart</a>' })
@Injectable()
export class MiniCartComponent implements ViewComponentRenderer<MiniCartArgs> {
  constructor(
    private readonly cart: CartService,
    @Inject(SAMPLE_APP_OPTIONS) private readonly options: ResolvedSampleAppOptions,
  ) {}

  async render({ showTotal = false }: MiniCartArgs, { req }: ComponentContext): Promise<string> {
    // SAMPLE_HOLE_DELAY_MS: a slow cart service (with streamed holes, the page does not wait).
    if (this.options.holeDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.options.holeDelayMs));
    }
    // Fault injection for `npm run soak` (off unless SAMPLE_FAULTS=1): a component that throws,
    // so that its fallback shows and the page around it still answers 200.
    if (FAULTS_ENABLED && req.headers?.['x-sample-fault'] === 'component') {
      throw new Error('MiniCart: injected fault (x-sample-fault: component)');
    }
    const ids = this.cart.parse(req.cookies?.cart);
    const { count, total } =
      ids.length === 0 ? { count: 0, total: '' } : await this.cart.summary(ids, currencyOf(req));
    const totalText = showTotal && count > 0 ? ` · ${escapeHtml(total)}` : '';
    return `<a class="cart" href="/cart">Cart (<span class="cart-count">${count}</span>)${totalText}</a>`;
  }
}
