import type { WsException } from '@nestjs/websockets';

let wsExceptionClass: typeof WsException | undefined;

/**
 * The error a `@SubscribeMessage()` handler is refused with. Nest answers a gateway's
 * `WsException` with an `exception` event holding its object (`{ status, message, code }`);
 * any other error becomes "Internal server error", so the refusal must be a `WsException`.
 * `@nestjs/websockets` is an optional peer: it is loaded here, the first time a gateway handler
 * is refused, when it is necessarily installed (only it calls gateway handlers).
 */
export function gatewayRefusal(message: string, code: string): Error {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose: an optional peer, loaded only in a gateway
  wsExceptionClass ??= (require('@nestjs/websockets') as typeof import('@nestjs/websockets')).WsException;
  return new wsExceptionClass({ status: 'error', message, code });
}
