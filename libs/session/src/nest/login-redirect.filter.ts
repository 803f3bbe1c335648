import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AuthenticationRequiredException, LoginRequiredException } from './session.exceptions';

/**
 * Turns {@link LoginRequiredException} into a `303 See Other` to the login page. Registered
 * globally by `SessionModule`; it catches nothing else. Outside HTTP (an override of
 * `handleAnonymous` that throws it in a resolver) there is no page to redirect: it becomes the
 * plain `UNAUTHENTICATED` error.
 */
@Catch(LoginRequiredException)
export class LoginRedirectFilter implements ExceptionFilter<LoginRequiredException> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: LoginRequiredException, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw new AuthenticationRequiredException();
    const response: unknown = host.switchToHttp().getResponse();
    this.adapterHost.httpAdapter.redirect(response, 303, exception.location);
  }
}
