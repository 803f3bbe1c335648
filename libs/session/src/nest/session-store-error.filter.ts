import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { SessionStoreError } from '../core/errors';
import { SessionStoreUnavailableException } from './session.exceptions';

/**
 * Answers 503 when a store call made by a handler fails (`session.login()`, `logout()`,
 * `regenerate()`, `reload()`, `save()`, passport's `req.login()`), the same as when loading or
 * committing fails: a store outage is never a bare 500. Registered globally by `SessionModule`;
 * it catches nothing else. In a GraphQL resolver it rethrows the 503 exception, which reaches
 * the client as an error with `extensions.code: 'SESSION_STORE_UNAVAILABLE'`.
 */
@Catch(SessionStoreError)
export class SessionStoreErrorFilter implements ExceptionFilter<SessionStoreError> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: SessionStoreError, host: ArgumentsHost): void {
    const unavailable = new SessionStoreUnavailableException(exception);
    if (host.getType() !== 'http') throw unavailable;
    const response: unknown = host.switchToHttp().getResponse();
    const { httpAdapter } = this.adapterHost;
    if (httpAdapter.isHeadersSent(response)) {
      // A streamed response already sent its status: end it rather than leave it hanging.
      httpAdapter.end(response);
      return;
    }
    httpAdapter.setHeader(response, 'Retry-After', '5');
    httpAdapter.reply(response, unavailable.getResponse(), unavailable.getStatus());
  }
}
