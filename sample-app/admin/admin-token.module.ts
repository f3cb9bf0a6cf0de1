import { Module } from '@nestjs/common';
import { resolveAdminToken, SAMPLE_ADMIN_TOKEN } from './admin-token.js';
import { AdminTokenGuard } from './admin-token.guard.js';

/** The dashboard's token (`ADMIN_TOKEN`, else random) and the guard that checks it. */
@Module({
  providers: [
    { provide: SAMPLE_ADMIN_TOKEN, useFactory: () => resolveAdminToken().token },
    AdminTokenGuard,
  ],
  exports: [SAMPLE_ADMIN_TOKEN, AdminTokenGuard],
})
export class AdminTokenModule {}
