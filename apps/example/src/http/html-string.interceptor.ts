import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { map, type Observable } from 'rxjs';

/**
 * Sends a string a handler returns as an HTML page, on either platform (Express guesses
 * `text/html` for a string, Fastify `text/plain`), for handlers that answer HTML or JSON by
 * request and so cannot fix the type with `@Header()`.
 */
@Injectable()
export class HtmlStringInterceptor implements NestInterceptor {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      map((result: unknown) => {
        if (typeof result === 'string') {
          this.adapterHost.httpAdapter.setHeader(context.switchToHttp().getResponse(), 'Content-Type', 'text/html; charset=utf-8');
        }
        return result;
      }),
    );
  }
}
