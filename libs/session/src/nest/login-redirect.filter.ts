import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { LoginRequiredException } from './session.exceptions';

/**
 * Turns {@link LoginRequiredException} into a `303 See Other` to the login page. Registered
 * globally by `SessionModule`; it catches nothing else.
 */
@Catch(LoginRequiredException)
export class LoginRedirectFilter implements ExceptionFilter<LoginRequiredException> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: LoginRequiredException, host: ArgumentsHost): void {
    const response: unknown = host.switchToHttp().getResponse();
    this.adapterHost.httpAdapter.redirect(response, 303, exception.location);
  }
}
