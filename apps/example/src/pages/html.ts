import type { FlashMessages } from '@app/session';
/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Who the page is rendered for: drives the navigation bar. */
export interface Viewer {
  readonly username: string;
  readonly roles: readonly string[];
}

const STYLES = `
  :root { color-scheme: light dark; --accent: #3b5bdb; --link: #3b5bdb; --muted: #868e96; --line: #8883; }
  @media (prefers-color-scheme: dark) { :root { --link: #91a7ff; } }
  * { box-sizing: border-box; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; }
  header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); }
  header nav { display: flex; flex-wrap: wrap; gap: .25rem 1rem; flex: 1 1 auto; }
  header nav a { text-decoration: none; white-space: nowrap; }
  header nav a:hover { text-decoration: underline; }
  header span { white-space: nowrap; }
  header form { margin: 0; }
  main { max-width: 40rem; margin: 2rem auto; padding: 0 1.5rem; }
  h1 { line-height: 1.2; }
  a { color: var(--link); }
  label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
  input { width: 100%; padding: .5rem; font: inherit; border: 1px solid #8886; border-radius: .375rem; }
  button { margin-top: 1rem; padding: .5rem 1rem; font: inherit; border: 0; border-radius: .375rem; background: var(--accent); color: white; cursor: pointer; }
  button:hover { filter: brightness(1.1); }
  header button { margin: 0; }
  .error { padding: .75rem; border-radius: .375rem; background: #e0313122; color: #c92a2a; }
  .muted { color: var(--muted); }
  .flash { padding: .75rem; border-radius: .375rem; background: #2f9e4422; color: #2b8a3e; }
  .flash-error { background: #e0313122; color: #c92a2a; }
  .devices { list-style: none; padding: 0; margin: 1rem 0; border-top: 1px solid var(--line); }
  .device { display: flex; flex-wrap: wrap; gap: .5rem 1rem; justify-content: space-between; align-items: center; padding: .75rem 0; border-bottom: 1px solid var(--line); }
  .device > div { flex: 1 1 16rem; min-width: 0; }
  .device strong { font-size: .9rem; font-weight: 600; overflow-wrap: anywhere; }
  .device .muted { font-size: .875rem; }
  .device time { white-space: nowrap; }
  .device form button { margin: 0; white-space: nowrap; }
  .badge { font-size: .75rem; padding: .1rem .5rem; border-radius: 1rem; background: var(--accent); color: white; white-space: nowrap; vertical-align: middle; }
  button.secondary { background: transparent; color: var(--link); border: 1px solid var(--link); }
`;

/**
 * A complete HTML page with the site navigation and the flash messages the session held (read
 * once, with `session.consumeFlash()`). `body` must already be escaped.
 */
export function renderPage(title: string, body: string, viewer: Viewer | undefined, flash: FlashMessages = {}): string {
  const messages = Object.entries(flash)
    .flatMap(([type, list]) => list.map((message) => `<p class="flash flash-${escapeHtml(type)}" role="status">${escapeHtml(message)}</p>`))
    .join('\n    ');
  const account = viewer
    ? `<span>Signed in as <strong>${escapeHtml(viewer.username)}</strong></span>
       <form method="post" action="/logout"><button type="submit">Log out</button></form>`
    : `<a href="/login">Log in</a>`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)} · Session example</title>
  <style>${STYLES}</style>
</head>
<body>
  <header>
    <nav><a href="/">Home</a><a href="/articles/create">Write an article</a><a href="/admin">Admin</a>${viewer ? '<a href="/account/sessions">Your sessions</a><a href="/live">Live</a>' : ''}</nav>
    ${account}
  </header>
  <main>
    ${messages}
    <h1>${escapeHtml(title)}</h1>
    ${body}
  </main>
</body>
</html>`;
}
