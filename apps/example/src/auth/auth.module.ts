import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ThrottlerModule } from '@nestjs/throttler';
import type { ExampleConfig } from '../config/example-config';
import { AuthController } from './auth.controller';
import { LoginThrottlerGuard, loginThrottlers } from './login-throttler.guard';
import { UsersService } from './users.service';

@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<ExampleConfig, true>) => ({
        throttlers: loginThrottlers(config.get('loginThrottle', { infer: true })),
        setHeaders: false,
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [UsersService, LoginThrottlerGuard],
})
export class AuthModule {}
