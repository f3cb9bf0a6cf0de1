import { Injectable } from '@nestjs/common';
import {
  type ComponentContext,
  ViewComponent,
  type ViewComponentRenderer,
} from '../../lib/index.js';
import { SHOPPER_COOKIE, shopperName } from '../account/shopper-name.js';
import { escapeHtml } from './html.js';

/**
 * The header's greeting, from the shopper's `shopper` cookie (set by `POST /account/name`). A
 * hole (not cacheable), like the MiniCart: the cached page around it holds no name, and every
 * shopper sees their own on it. Without a name, a small form to give one.
 */
@ViewComponent({ name: 'Greeting', fallback: '' })
@Injectable()
export class GreetingComponent implements ViewComponentRenderer<Record<string, never>> {
  render(_args: Record<string, never>, { req }: ComponentContext): string {
    const name = shopperName(req.cookies?.[SHOPPER_COOKIE]);
    if (name === undefined) {
      return (
        '<form class="greeting" method="post" action="/account/name">' +
        '<input name="name" maxlength="40" placeholder="Your name" aria-label="Your name">' +
        '</form>'
      );
    }
    return `<span class="greeting">Hello, <span class="shopper-name">${escapeHtml(name)}</span></span>`;
  }
}
