import { Controller, Get, Header, Param, ParseIntPipe, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Currency } from '../common/currency.decorator.js';
import { localReferer } from '../common/local-referer.js';
import type { CurrencyCode } from '../common/currency.js';
import { type CartSummary, CartService } from './cart.service.js';
import { prefersHtml, redirectSeeOther, setSampleCookie } from '../common/http-response.js';

/** The visitor's cart. Not cacheable: no `@Cacheable`, so the output cache leaves it alone. */
@Controller('cart')
export class CartController {
  constructor(private readonly cart: CartService) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  show(@Req() req: Request, @Currency() currency: CurrencyCode): Promise<CartSummary> {
    return this.cart.summary(this.cart.parse(req.cookies?.cart), currency);
  }

  /**
   * Adds one unit to the `cart` cookie. Answers JSON (the product page's script), or, for a
   * plain form post, redirects back to the page the visitor came from.
   */
  @Post(':productId')
  async add(
    @Param('productId', ParseIntPipe) productId: number,
    @Req() req: Request,
    @Res() res: Response,
    @Currency() currency: CurrencyCode,
  ): Promise<void> {
    const { ids, cookie } = await this.cart.add(req.cookies?.cart, productId);
    setSampleCookie(res, 'cart', cookie, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      maxAgeMs: 30 * 24 * 3600 * 1000,
    });
    if (prefersHtml(req)) {
      redirectSeeOther(res, localReferer(req));
      return;
    }
    // status() and send() of an object: JSON on Express and on Fastify alike.
    res.status(201).send(await this.cart.summary(ids, currency));
  }
}
