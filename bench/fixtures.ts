import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import hbs from 'hbs';

/** The view every page scenario renders. */
export const PAGE_VIEW = 'products';

/** The same page with three holes: trivial view components placed in its header and footer. */
export const HOLES_VIEW = 'products-holes';

/** The holes of {@link HOLES_VIEW}: component names and the constant each renders. */
export const HOLES: readonly { name: string; text: string }[] = [
  { name: 'Hole1', text: '<span class="greeting">Hello, guest</span>' },
  { name: 'Hole2', text: '<a class="mini-cart" href="/cart">Cart (0)</a>' },
  { name: 'Hole3', text: '<p class="recent">No recently viewed products</p>' },
];

/** The timings of the availability group (issue 6). */
export const AVAILABILITY = {
  /** TTL of the stale-while-revalidate page, s. */
  swrTtl: 1,
  /** Its grace, s. */
  swrGrace: 60,
  /** How long its render takes (a timer: a slow backend, not CPU), ms. */
  swrRenderMs: 500,
  /** How long a render of the collapse page takes, ms. */
  collapseRenderMs: 200,
} as const;

/** Products in the view model: tuned so that the page is about 20 KB. */
const PRODUCT_COUNT = 41;

/** The product list page (about 20 KB rendered). */
const PAGE_TEMPLATE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{title}} – {{shop}}</title>
</head>
<body>
<header><h1>{{title}}</h1><p class="crumbs">{{#each crumbs}}<a href="{{url}}">{{label}}</a> / {{/each}}</p></header>
<main>
<ul class="products">
{{#each products}}
<li class="product" data-id="{{id}}">
<a href="/p/{{slug}}"><img src="/img/{{sku}}.jpg" alt="{{name}}" width="240" height="240"></a>
<h2><a href="/p/{{slug}}">{{name}}</a></h2>
<p class="sku">SKU {{sku}}</p>
<p class="desc">{{description}}</p>
<p class="price">{{#if onSale}}<del>{{oldPrice}}</del> {{/if}}<strong>{{price}}</strong></p>
<ul class="tags">{{#each tags}}<li>{{this}}</li>{{/each}}</ul>
</li>
{{/each}}
</ul>
</main>
<footer><p>{{footer}}</p></footer>
</body>
</html>
`;

/** {@link PAGE_TEMPLATE} with the {@link HOLES} placed: two in the header, one in the footer. */
function withHoles(template: string): string {
  const place = (i: number) => `{{{component "${HOLES[i].name}"}}}`;
  const out = template
    .replace('<header>', `<header>${place(0)}${place(1)}`)
    .replace('<footer>', `<footer>${place(2)}`);
  if (out.split('{{{component').length !== HOLES.length + 1) throw new Error('holes not placed');
  return out;
}

/**
 * The bench's views, by name. They live here rather than in `.hbs` files so that tsc needs not
 * copy them and prettier's Handlebars formatting (which drops the doctype) leaves them alone;
 * {@link viewsDir} writes them out for Express.
 */
export const VIEWS: Record<string, string> = {
  [PAGE_VIEW]: PAGE_TEMPLATE,
  [HOLES_VIEW]: withHoles(PAGE_TEMPLATE),
};

let dir: string | undefined;

/** A temporary directory holding {@link VIEWS} as `.hbs` files, removed when the process exits. */
export function viewsDir(): string {
  if (dir) return dir;
  const created = mkdtempSync(path.join(os.tmpdir(), 'output-cache-bench-views-'));
  for (const [name, source] of Object.entries(VIEWS)) {
    writeFileSync(path.join(created, `${name}.hbs`), source);
  }
  process.once('exit', () => rmSync(created, { recursive: true, force: true }));
  return (dir = created);
}

export interface Product {
  id: number;
  slug: string;
  sku: string;
  name: string;
  description: string;
  price: string;
  oldPrice: string;
  onSale: boolean;
  tags: string[];
}

export interface PageViewModel {
  title: string;
  shop: string;
  crumbs: { url: string; label: string }[];
  products: Product[];
  footer: string;
}

const ADJECTIVES = ['Classic', 'Urban', 'Trail', 'Light', 'Premium', 'Everyday', 'Retro', 'Pro'];
const NOUNS = ['Sneaker', 'Boot', 'Loafer', 'Sandal', 'Runner', 'Slip-on'];
const TAGS = ['new', 'eco', 'bestseller', 'wide fit', 'vegan', 'waterproof', 'limited'];

/**
 * The view model of the product list page: the same data on every call, built fresh as a
 * controller would from its services, so a render costs what a real one does.
 */
export function pageViewModel(): PageViewModel {
  const products: Product[] = [];
  for (let i = 0; i < PRODUCT_COUNT; i++) {
    const name = `${ADJECTIVES[i % ADJECTIVES.length]} ${NOUNS[i % NOUNS.length]} ${i + 1}`;
    const cents = 4999 + ((i * 731) % 9000);
    products.push({
      id: 1000 + i,
      slug: name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
      sku: `SH-${String(1000 + i).padStart(6, '0')}`,
      name,
      description: `Comfortable & durable ${name.toLowerCase()} with a cushioned sole, "breathable" lining and <recycled> laces.`,
      price: `€${(cents / 100).toFixed(2)}`,
      oldPrice: `€${((cents * 1.25) / 100).toFixed(2)}`,
      onSale: i % 3 === 0,
      tags: [TAGS[i % TAGS.length], TAGS[(i * 3 + 1) % TAGS.length]],
    });
  }
  return {
    title: 'Shoes',
    shop: 'Bench Shop',
    crumbs: [
      { url: '/', label: 'Home' },
      { url: '/c/shoes', label: 'Shoes' },
    ],
    products,
    footer: '© Bench Shop – prices include VAT',
  };
}

/**
 * The page as a constant: the same template and view model rendered once with the same
 * Handlebars that `hbs` uses, so the baseline and cache-manager routes send the same bytes as
 * the `@Render()` routes.
 */
export const PAGE_HTML: string = hbs.handlebars.compile(VIEWS[PAGE_VIEW])(pageViewModel());
