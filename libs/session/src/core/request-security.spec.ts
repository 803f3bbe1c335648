import { clientAddress, isSecureRequest, type RequestTransport } from './request-security';

describe('isSecureRequest', () => {
  it.each<[string, RequestTransport, boolean]>([
    // TLS terminated by the app
    ['a TLS socket', { encrypted: true, forwardedProto: undefined, trustProxy: false }, true],
    ['a TLS socket, whatever the header says', { encrypted: true, forwardedProto: 'http', trustProxy: true }, true],
    // behind a trusted proxy
    ['a trusted proxy saying https', { encrypted: false, forwardedProto: 'https', trustProxy: true }, true],
    ['a trusted proxy saying HTTPS', { encrypted: false, forwardedProto: 'HTTPS', trustProxy: true }, true],
    ['a trusted proxy saying https with spaces', { encrypted: false, forwardedProto: '  https  ', trustProxy: true }, true],
    ['a proxy chain whose client-most hop was https', { encrypted: false, forwardedProto: 'https, http', trustProxy: true }, true],
    ['the header repeated, first https', { encrypted: false, forwardedProto: ['https', 'http'], trustProxy: true }, true],
    // negative cases
    ['plain http without any header', { encrypted: false, forwardedProto: undefined, trustProxy: false }, false],
    ['plain http, trusted proxy, no header', { encrypted: false, forwardedProto: undefined, trustProxy: true }, false],
    ['a forged header without trustProxy', { encrypted: false, forwardedProto: 'https', trustProxy: false }, false],
    ['a trusted proxy saying http', { encrypted: false, forwardedProto: 'http', trustProxy: true }, false],
    ['a proxy chain whose client-most hop was http', { encrypted: false, forwardedProto: 'http, https', trustProxy: true }, false],
    ['the header repeated, first http', { encrypted: false, forwardedProto: ['http', 'https'], trustProxy: true }, false],
    ['an empty header', { encrypted: false, forwardedProto: '', trustProxy: true }, false],
    ['an empty header list', { encrypted: false, forwardedProto: [], trustProxy: true }, false],
    ['a look-alike value', { encrypted: false, forwardedProto: 'httpsx', trustProxy: true }, false],
    ['a value with a prefix', { encrypted: false, forwardedProto: 'xhttps', trustProxy: true }, false],
  ])('%s', (_label, transport, expected) => {
    expect(isSecureRequest(transport)).toBe(expected);
  });
});

describe('clientAddress', () => {
  it('is the socket peer without trustProxy, whatever X-Forwarded-For says', () => {
    expect(clientAddress({ remoteAddress: '10.0.0.5', forwardedFor: '203.0.113.7', trustProxy: false })).toBe('10.0.0.5');
  });

  it('is the client-most X-Forwarded-For entry behind a trusted proxy', () => {
    expect(clientAddress({ remoteAddress: '10.0.0.5', forwardedFor: ' 203.0.113.7 , 10.0.0.9', trustProxy: true })).toBe('203.0.113.7');
    expect(clientAddress({ remoteAddress: '10.0.0.5', forwardedFor: ['203.0.113.8', '10.0.0.9'], trustProxy: true })).toBe('203.0.113.8');
  });

  it('falls back to the socket peer when the header is missing or empty', () => {
    expect(clientAddress({ remoteAddress: '10.0.0.5', forwardedFor: undefined, trustProxy: true })).toBe('10.0.0.5');
    expect(clientAddress({ remoteAddress: '10.0.0.5', forwardedFor: ' , ', trustProxy: true })).toBe('10.0.0.5');
  });
});
