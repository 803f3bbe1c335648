const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);

/**
 * True when an `Accept` header asks for an HTML page rather than data: an HTML type is listed
 * explicitly with a quality at least that of JSON. Browsers navigating send
 * `text/html,...,*\/*;q=0.8`; API clients send `application/json` or `*\/*`, which are not pages.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const range of accept.split(',')) {
    const [rawType, ...parameters] = range.split(';');
    const type = rawType?.trim().toLowerCase() ?? '';
    let quality = 1;
    for (const parameter of parameters) {
      const [name, value] = parameter.split('=');
      if (name?.trim().toLowerCase() === 'q') {
        const parsed = Number(value);
        quality = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 0;
      }
    }
    if (HTML_TYPES.has(type)) html = Math.max(html, quality);
    else if (type === 'application/json') json = Math.max(json, quality);
  }
  return html > 0 && html >= json;
}
