import { prefersHtml } from './content-negotiation';

describe('prefersHtml', () => {
  describe.each<[string, Array<[string, string | undefined]>]>([
    [
      'a page request',
      [
        ['a browser navigation (Chrome)', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'],
        ['a browser navigation (Firefox)', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
        ['text/html alone', 'text/html'],
        ['xhtml alone', 'application/xhtml+xml'],
        ['upper-case type', 'TEXT/HTML'],
        ['spaces around ranges', '  text/html  ;  q=0.9 , application/json ; q=0.5'],
        ['html and json at equal quality', 'application/json, text/html'],
        ['html preferred over json', 'application/json;q=0.5, text/html;q=0.9'],
        ['html with another parameter', 'text/html;level=1'],
        ['html with a quality above 1 (clamped)', 'text/html;q=5, application/json'],
        ['upper-case Q parameter', 'text/html;Q=0.9, application/json;q=0.1'],
      ],
    ],
    [
      'not a page request',
      [
        ['no header', undefined],
        ['an empty header', ''],
        ['json', 'application/json'],
        ['any type', '*/*'],
        ['any text', 'text/*'],
        ['plain text', 'text/plain'],
        ['json preferred over html', 'text/html;q=0.5, application/json'],
        ['html refused with q=0', 'text/html;q=0'],
        ['html with an unparseable quality', 'text/html;q=abc'],
        ['html with a negative quality (clamped to 0)', 'text/html;q=-1'],
        ['a look-alike type', 'text/htmlx, application/html'],
        ['only separators', ', ; ,'],
      ],
    ],
  ])('%s', (kind, cases) => {
    const expected = kind === 'a page request';
    it.each(cases)(`%s: %j is ${expected ? 'HTML' : 'not HTML'}`, (_label, accept) => {
      expect(prefersHtml(accept)).toBe(expected);
    });
  });
});
