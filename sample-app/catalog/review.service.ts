import { BadRequestException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DisplayControl } from '../../lib/index.js';
import { DataLatency } from '../common/data-latency.service.js';
import type { Product } from '../entities/product.entity.js';
import { Review } from '../entities/review.entity.js';
import type { CreateReviewDto } from './create-review.dto.js';

/**
 * Product reviews. A review maps to its product's tag (`Product:{productId}`, registered in
 * CacheRulesService), so posting one evicts the product's page through the invalidation
 * observer: nothing here evicts by hand.
 */
@Injectable()
export class ReviewService {
  constructor(
    @InjectRepository(Review) private readonly reviews: Repository<Review>,
    private readonly latency: DataLatency,
    private readonly displayControl: DisplayControl,
  ) {}

  /** The newest reviews of a product. */
  async forProduct(product: Product, take = 10): Promise<Review[]> {
    await this.latency.wait();
    const reviews = await this.reviews.find({
      where: { productId: product.id },
      order: { createdAt: 'DESC', id: 'DESC' },
      take,
    });
    this.displayControl.announce(reviews);
    return reviews;
  }

  async add(product: Product, body: unknown): Promise<Review> {
    const { author, rating, text } = validate(body);
    return this.reviews.save(
      this.reviews.create({ productId: product.id, author, rating, body: text }),
    );
  }
}

function validate(body: unknown): { author: string; rating: number; text: string } {
  if (typeof body !== 'object' || body === null)
    throw new BadRequestException('Form body expected');
  const { author, rating, body: text } = body as CreateReviewDto;
  const name = typeof author === 'string' ? author.trim() : '';
  if (name === '' || name.length > 60) {
    throw new BadRequestException('"author" must be 1 to 60 characters');
  }
  const stars = Number(rating);
  if (!Number.isInteger(stars) || stars < 1 || stars > 5) {
    throw new BadRequestException('"rating" must be 1 to 5');
  }
  const content = typeof text === 'string' ? text.trim() : '';
  if (content === '' || content.length > 2000) {
    throw new BadRequestException('"body" must be 1 to 2000 characters');
  }
  return { author: name, rating: stars, text: content };
}
