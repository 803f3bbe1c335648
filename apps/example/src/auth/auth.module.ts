import { Module, type DynamicModule } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import type { LoginThrottleConfig } from '../config/example-config';
import { AuthController } from './auth.controller';
import { LoginThrottlerGuard, loginThrottlers } from './login-throttler.guard';
import { UsersService } from './users.service';

@Module({})
export class AuthModule {
  static register(throttle: LoginThrottleConfig): DynamicModule {
    return {
      module: AuthModule,
      imports: [ThrottlerModule.forRoot({ throttlers: loginThrottlers(throttle), setHeaders: false })],
      controllers: [AuthController],
      providers: [UsersService, LoginThrottlerGuard],
    };
  }
}
