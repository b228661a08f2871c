// The frame every page shares: who is signed in, the navigation for their role, sign-out, and
// a place for messages. start() returns the session, or null after saying why there is none.
import {h, fill, $} from './dom.js';
import {session, signOut, isStaff, ApiError} from './api.js';

const NAV = {
  partner: [['./', 'Home'], ['introduce', 'Introduce a client'], ['money', 'Money'], ['agreement', 'Agreement']],
  staff: [['inbox', 'Inbox'], ['money', 'Invoices'], ['partner', 'Partners']],
};

export async function start(opts = {}) {
  const top = $('#top');
  let s;
  try {
    s = await session();
  } catch (e) {
    fill(top, h('span', {class: 'brand'}, 'Allied'));
    const signedOut = e instanceof ApiError && e.status === 401;
    page(h('div', {class: 'notice', role: 'alert'},
      h('p', {}, signedOut ? 'You are not signed in, or your session has ended.' : e.message),
      signedOut ? h('p', {}, 'Open the sign-in link from your latest e-mail, or ask the business for a new one.') : null));
    return null;
  }
  const staff = isStaff(s);
  const here = location.pathname.replace(/^\/portal\/?/, '') || './';
  const links = NAV[staff ? 'staff' : 'partner'];
  fill(top,
    h('a', {class: 'brand', href: staff ? 'inbox' : './'}, s.tenant_name || 'Allied'),
    h('nav', {'aria-label': 'Main'}, h('ul', {}, links.map(([href, label]) =>
      h('li', {}, h('a', {href, 'aria-current': here === href ? 'page' : null}, label))))),
    h('div', {class: 'who'},
      h('span', {}, (s.partner_name ? s.partner_name + ' · ' : '') + (s.email || s.role)),
      h('button', {type: 'button', class: 'link', onclick: out}, 'Sign out')));
  if (opts.staffOnly && !staff) return refuse('This page is for the business’s staff.');
  if (opts.partnerOnly && staff) return refuse('This page is for partners.');
  return s;
}

function refuse(text) {
  page(h('p', {class: 'notice', role: 'alert'}, text));
  return null;
}

async function out() {
  try {
    await signOut();
  } catch {
    // Signed out either way: the page below says so.
  }
  location.replace('sign-in#signed-out');
}

// Puts `children` as the page's content (below its heading).
export function page(...children) {
  return fill($('#page'), ...children);
}

// A message in the page's live region (read out by screen readers); kind: ok | error.
export function say(text, kind = 'ok') {
  const el = $('#say');
  fill(el, text ? h('p', {class: 'say say-' + kind, role: kind === 'error' ? 'alert' : 'status'}, text) : null);
  if (text) el.scrollIntoView({block: 'nearest'});
}

// Shows a failed load as a sentence in place of the page.
export function failed(e) {
  page(h('p', {class: 'notice', role: 'alert'}, e.message || String(e)));
}
