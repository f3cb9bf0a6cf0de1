import { Injectable } from '@nestjs/common';
import { CacheableComponent, ViewComponent, type ViewComponentRenderer } from '../../lib/index.js';
import { escapeHtml } from './html.js';

export interface SearchBoxArgs {
  placeholder?: string;
}

/**
 * The header's search form. Cacheable: its output depends only on its arguments, so it is
 * rendered once, when the page is stored. It must not echo the visitor's `?q=` (other pages do
 * not vary by `q`, so that text would be frozen into them); the search page shows the query.
 */
@CacheableComponent()
@ViewComponent('SearchBox')
@Injectable()
export class SearchBoxComponent implements ViewComponentRenderer<SearchBoxArgs> {
  render({ placeholder = 'Search' }: SearchBoxArgs): string {
    return (
      `<form class="search" action="/search" method="get" role="search">` +
      `<input type="search" name="q" placeholder="${escapeHtml(placeholder)}" aria-label="Search">` +
      `</form>`
    );
  }
}
