import { Module } from '@nestjs/common';
import { AccountController } from './account.controller.js';

/** The shopper's display name (`POST /account/name`); the `Greeting` hole shows it. */
@Module({ controllers: [AccountController] })
export class AccountModule {}
