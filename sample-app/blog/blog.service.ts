import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DisplayControl } from '../../lib/index.js';
import { DataLatency } from '../common/data-latency.service.js';
import { BlogPost } from '../entities/blog-post.entity.js';

@Injectable()
export class BlogService {
  constructor(
    @InjectRepository(BlogPost) private readonly posts: Repository<BlogPost>,
    private readonly latency: DataLatency,
    private readonly displayControl: DisplayControl,
  ) {}

  /** Published posts, newest first. */
  async latest(take = 20): Promise<BlogPost[]> {
    await this.latency.wait();
    const posts = await this.posts.find({ order: { publishedAt: 'DESC' }, take });
    this.displayControl.announceList(BlogPost);
    this.displayControl.announce(posts);
    return posts;
  }

  async bySlug(slug: string): Promise<BlogPost> {
    await this.latency.wait();
    const post = await this.posts.findOneBy({ slug });
    if (!post) throw new NotFoundException(`No blog post "${slug}"`);
    this.displayControl.announce(post);
    return post;
  }
}
