import { Body, Controller, Param, Post, Redirect, UseGuards } from '@nestjs/common';
import { CsrfGuard } from '../security/csrf.guard.js';
import { CatalogService } from './catalog.service.js';
import { CreateReviewDto } from './create-review.dto.js';
import { ReviewService } from './review.service.js';

@Controller('product/:slug/reviews')
export class ReviewController {
  constructor(
    private readonly catalog: CatalogService,
    private readonly reviews: ReviewService,
  ) {}

  /**
   * The product page's review form. Its CSRF token comes from the built-in hole
   * (`{{{antiforgeryField}}}`): the page is cached, the token is not. Saving the review evicts
   * the product's page, so the redirect shows it at once.
   */
  @Post()
  @UseGuards(CsrfGuard)
  @Redirect('/', 303)
  async create(@Param('slug') slug: string, @Body() body: CreateReviewDto) {
    const product = await this.catalog.productBySlug(slug);
    await this.reviews.add(product, body);
    return { url: `/product/${product.slug}#reviews` };
  }
}
