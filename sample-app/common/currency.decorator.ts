import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { currencyOf } from './currency.js';

/** The visitor's currency code (`USD`, `EUR`, `GBP`), as the output cache varies by it. */
export const Currency = createParamDecorator((_data: unknown, ctx: ExecutionContext) =>
  currencyOf(ctx.switchToHttp().getRequest()),
);
