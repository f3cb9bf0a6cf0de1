import { createParamDecorator } from '@nestjs/common';
import { varyValue } from '../../lib/index.js';
import type { CurrencyCode } from './currency.js';

/**
 * The visitor's currency code (`USD`, `EUR`, `GBP`), read through the output cache's `currency`
 * vary-by: the page is keyed by it because it read it (the routes list no vary-by names; see
 * `defaultVaryBy: 'auto'` in app.module.ts).
 */
export const Currency = createParamDecorator(() => varyValue('currency') as CurrencyCode);
