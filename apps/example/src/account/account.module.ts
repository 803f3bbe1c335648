import { Module } from '@nestjs/common';
import { AccountSessionsController } from './account-sessions.controller';

/** "Your sessions": the signed-in user's devices (uses the global SessionModule's SessionService). */
@Module({ controllers: [AccountSessionsController] })
export class AccountModule {}
