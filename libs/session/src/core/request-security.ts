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
