// A panel's states (idle, loading, ready, empty, error), shown in its body and in `data-state`
// and `aria-busy`, so screen readers and tests see the same thing. Each refresh replaces the
// previous one: a late answer to an older refresh is dropped.

import { code } from './graphql.js';

/** Creates an element: `el('p', { class: 'message' }, 'text', child)`. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class Panel {
  constructor(section) {
    this.section = section;
    this.body = section.querySelector('.panel-body');
    this.refreshes = 0;
    this.controller = null;
  }

  /**
   * Starts a refresh: shows the loading state and answers `{ signal, current }`, where
   * `current()` says whether this refresh is still the latest.
   */
  begin(message = 'Loading…') {
    this.controller?.abort();
    this.controller = new AbortController();
    const id = ++this.refreshes;
    this.show('loading', el('p', { class: 'message' }, message));
    return { signal: this.controller.signal, current: () => id === this.refreshes };
  }

  show(state, ...content) {
    this.section.dataset.state = state;
    this.section.setAttribute('aria-busy', String(state === 'loading'));
    this.body.replaceChildren(...content.filter((c) => c !== null && c !== undefined && c !== false));
  }

  ready(...content) {
    this.show('ready', ...content);
  }

  empty(message) {
    this.show('empty', el('p', { class: 'message' }, message));
  }

  /** The error state: what failed, with each distinct `extensions.code`. */
  error(errors, what = 'This panel could not be loaded.') {
    this.show('error', errorBox(errors, what));
  }
}

/** A box listing errors by code, once per code and message. */
export function errorBox(errors, what) {
  const seen = new Set();
  const items = [];
  for (const error of errors) {
    const key = `${code(error)}\u0000${error.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    items.push(el('li', {}, el('code', { class: 'code' }, code(error)), ': ', error.message ?? ''));
  }
  return el('div', { class: 'error', role: 'alert' }, el('p', {}, what), el('ul', {}, items));
}

/** A note under partial data: some of it failed, with which codes. */
export function partialNote(errors, what) {
  const codes = [...new Set(errors.map(code))];
  return el('p', { class: 'warning', role: 'note' }, `${what} `, ...codes.flatMap((c, i) => [i ? ', ' : '', el('code', {}, c)]));
}

/** A right-aligned (numeric) table cell. */
export function num(content) {
  return { content, num: true };
}

function isCell(c) {
  return c !== null && typeof c === 'object' && !(c instanceof Node);
}

/**
 * A table: a caption, header cells, rows of cells and an optional footer row. A cell is text, a
 * node, or `num(...)`; a row may also be a ready `<tr>`. The first cell of each row is its
 * header.
 */
export function table(caption, head, rows, foot) {
  const content = (c) => (isCell(c) ? c.content : c);
  const cls = (c) => (isCell(c) && c.num ? 'num' : null);
  const row = (cells, first) =>
    el('tr', {}, cells.map((c, i) => el(i === 0 ? 'th' : 'td', { scope: i === 0 ? first : null, class: cls(c) }, content(c))));
  return el(
    'div',
    { class: 'table-scroll' },
    el(
      'table',
      {},
      el('caption', {}, caption),
      el('thead', {}, el('tr', {}, head.map((c) => el('th', { scope: 'col', class: cls(c) }, content(c))))),
      el('tbody', {}, rows.map((r) => (r instanceof Node ? r : row(r, 'row')))),
      foot ? el('tfoot', {}, row(foot, 'row')) : null,
    ),
  );
}
