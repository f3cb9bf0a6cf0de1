import { Controller, Get, Param, Render } from '@nestjs/common';
import { Cacheable, RouteModule } from '../../lib/index.js';
import { ShopLayoutService } from '../common/shop-layout.service.js';
import type { BlogPost } from '../entities/blog-post.entity.js';
import { BlogService } from './blog.service.js';

const dateFormat = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' });

/**
 * Every handler is cacheable (the decorator is on the class); route ids are `Blog/Blog/list`
 * and `Blog/Blog/post`. The blog shows no prices, but the header's `CurrencySelector` (a
 * cacheable component, frozen into the page) marks the active currency, so the pages still vary
 * by currency.
 */
@RouteModule('Blog')
@Cacheable()
@Controller('blog')
export class BlogController {
  constructor(
    private readonly blog: BlogService,
    private readonly layout: ShopLayoutService,
  ) {}

  @Get()
  @Render('blog-list')
  async list() {
    const [shop, posts] = await Promise.all([this.layout.model(), this.blog.latest()]);
    return {
      title: 'Journal',
      shop,
      posts: posts.map((post) => ({
        title: post.title,
        slug: post.slug,
        date: dateFormat.format(post.publishedAt),
        excerpt: excerpt(post),
      })),
    };
  }

  @Get(':slug')
  @Render('blog-post')
  async post(@Param('slug') slug: string) {
    const [shop, post] = await Promise.all([this.layout.model(), this.blog.bySlug(slug)]);
    return {
      title: post.title,
      shop,
      post: {
        title: post.title,
        date: dateFormat.format(post.publishedAt),
        paragraphs: post.body.split(/\n\s*\n/),
      },
    };
  }
}

function excerpt(post: BlogPost, length = 160): string {
  const text = post.body.replace(/\s+/g, ' ').trim();
  return text.length <= length ? text : `${text.slice(0, text.lastIndexOf(' ', length))}…`;
}
