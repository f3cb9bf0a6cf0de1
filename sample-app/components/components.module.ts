import { Module } from '@nestjs/common';
import { CartModule } from '../cart/cart.module.js';
import { CatalogModule } from '../catalog/catalog.module.js';
import { CategoryMenuComponent } from './category-menu.component.js';
import { CurrencySelectorComponent } from './currency-selector.component.js';
import { GreetingComponent } from './greeting.component.js';
import { MiniCartComponent } from './mini-cart.component.js';
import { RecentlyViewedComponent } from './recently-viewed.component.js';
import { SearchBoxComponent } from './search-box.component.js';

/**
 * The view components the layout and pages place (`{{{component "MiniCart"}}}`). Being
 * providers is all it takes: the output cache discovers them at bootstrap.
 *
 * | component | kind |
 * | --- | --- |
 * | `SearchBox`, `CategoryMenu`, `CurrencySelector` | cacheable: part of the cached page |
 * | `MiniCart`, `RecentlyViewed`, `Greeting` | holes: rendered for every response, hits included |
 *
 * The built-in `AntiForgeryToken` hole (`{{{antiforgeryField}}}`) comes from the module's `csrf`
 * option.
 */
@Module({
  imports: [CatalogModule, CartModule],
  providers: [
    SearchBoxComponent,
    CategoryMenuComponent,
    CurrencySelectorComponent,
    MiniCartComponent,
    RecentlyViewedComponent,
    GreetingComponent,
  ],
})
export class ComponentsModule {}
