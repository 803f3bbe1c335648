import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { isSecureRequest } from '../../core/request-security';

/**
 * Whether Node's request came over HTTPS: its socket is TLS, or, with `trustProxy`, the proxy says
 * so in `X-Forwarded-Proto`. Both platforms hand the session glue Node's own request.
 */
export function isSecureNodeRequest(request: IncomingMessage, trustProxy: boolean): boolean {
  return isSecureRequest({
    encrypted: (request.socket as TLSSocket | undefined)?.encrypted === true,
    forwardedProto: request.headers['x-forwarded-proto'],
    trustProxy,
  });
}
