/** What is known about the transport of a request. */
export interface RequestTransport {
  /** The socket is TLS (the app itself terminates HTTPS). */
  readonly encrypted: boolean;
  /** The `X-Forwarded-Proto` header, if any. */
  readonly forwardedProto: string | string[] | undefined;
  /** Whether `X-Forwarded-Proto` may be believed (the `trustProxy` option). */
  readonly trustProxy: boolean;
}

/**
 * Whether a request arrived over HTTPS. `X-Forwarded-Proto` is believed only with `trustProxy`,
 * since any client can send it; with several proxies the first (client-most) value counts.
 */
export function isSecureRequest(transport: RequestTransport): boolean {
  if (transport.encrypted) return true;
  if (!transport.trustProxy || transport.forwardedProto === undefined) return false;
  const header = Array.isArray(transport.forwardedProto) ? transport.forwardedProto[0] : transport.forwardedProto;
  return header?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/** What is known about where a request came from. */
export interface RequestOrigin {
  /** The socket's peer address. */
  readonly remoteAddress: string | undefined;
  /** The `X-Forwarded-For` header, if any. */
  readonly forwardedFor: string | string[] | undefined;
  /** Whether `X-Forwarded-For` may be believed (the `trustProxy` option). */
  readonly trustProxy: boolean;
}

/**
 * The client's address: the socket's peer, or behind a trusted proxy the client-most
 * `X-Forwarded-For` entry (what Express's `req.ip` and Fastify's `request.ip` give with their
 * trust-proxy setting on). For platforms whose request object the session glue does not see.
 */
export function clientAddress(origin: RequestOrigin): string | undefined {
  if (!origin.trustProxy || origin.forwardedFor === undefined) return origin.remoteAddress;
  const header = Array.isArray(origin.forwardedFor) ? origin.forwardedFor.join(',') : origin.forwardedFor;
  const first = header.split(',')[0]?.trim();
  return first ? first : origin.remoteAddress;
}
