import { readCookieValues } from './cookie-header';

describe('readCookieValues', () => {
  it.each<[string, string | undefined, string[]]>([
    // nothing to read
    ['no header', undefined, []],
    ['an empty header', '', []],
    ['a header of only separators', ';; ;', []],
    ['other cookies only', 'theme=dark; lang=en', []],
    ['the name only as a value', 'other=sid', []],
    ['the name without "="', 'sid', []],
    ['the name without "=" before another cookie', 'sid; a=1', []],
    ['a longer name ending in the name', 'xsid=1', []],
    ['a longer name starting with the name', 'sidx=1', []],
    ['different case', 'SID=1; Sid=2', []],
    // one value
    ['a single cookie', 'sid=abc', ['abc']],
    ['among other cookies', 'a=1; sid=abc; b=2', ['abc']],
    ['among cookies with similar names', 'xsid=1; sid=2; sidx=3', ['2']],
    ['last, after a cookie without "="', 'flag; sid=abc', ['abc']],
    ['spaces around name and value', '  sid  =  abc  ; a=1', ['abc']],
    ['tabs around name and value', 'a=1;\tsid\t=\tabc', ['abc']],
    ['no space after ";"', 'a=1;sid=abc;b=2', ['abc']],
    ['a trailing ";"', 'sid=abc;', ['abc']],
    ['a value holding "="', 'sid=a=b==', ['a=b==']],
    ['an empty value', 'sid=', ['']],
    ['a quoted value, kept raw', 'sid="abc"', ['"abc"']],
    ['a percent-encoded value, not decoded', 'sid=a%2Eb', ['a%2Eb']],
    // several values
    ['duplicates', 'sid=a; sid=b', ['a', 'b']],
    ['duplicates with others between', 'sid=a; x=1; sid=b; y=2; sid=c', ['a', 'b', 'c']],
    ['the same value twice', 'sid=a; sid=a', ['a', 'a']],
  ])('%s: %j', (_label, header, expected) => {
    expect(readCookieValues(header, 'sid')).toEqual(expected);
  });

  it.each<[string, string, string[]]>([
    ['a __Host- prefixed name', '__Host-sid=1; sid=2', ['1']],
    ['a name with dots and dashes', 'my.app-sid=v; sid=w', ['v']],
  ])('reads %s exactly', (_label, header, expected) => {
    const name = header.split('=')[0];
    expect(readCookieValues(header, name)).toEqual(expected);
  });
});
