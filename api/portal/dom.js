// Building the page: elements from data, never HTML from strings (no innerHTML with data).

// h('a', {href: '/x', class: 'btn'}, 'text', child, ...): attributes, then children (strings,
// nodes, arrays, or null/false to skip). on* attributes that are functions become listeners.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces everything inside `el` with `children`.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// A query parameter of this page's address (e.g. the record it shows).
export const param = (name) => new URLSearchParams(location.search).get(name);

// A small "label: value" list.
export function facts(pairs) {
  return h('dl', {class: 'facts'}, pairs.filter((p) => p && p[1] !== null && p[1] !== undefined && p[1] !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// A table with a caption, header cells and rows of cells (strings or nodes).
export function table(caption, heads, rows, empty) {
  if (!rows.length) return h('p', {class: 'empty'}, empty || 'Nothing yet.');
  return h('div', {class: 'table-wrap'},
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, heads.map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => i === 0 ? h('th', {scope: 'row'}, c) : h('td', {}, c)))))));
}

// A status word as a badge ("payable", "won", ...): the word itself, so colour is never the only cue.
export const badge = (status) => h('span', {class: 'badge badge-' + status}, status.replace(/_/g, ' '));
