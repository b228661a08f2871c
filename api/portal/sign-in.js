// Sign-in: the one-time link is /portal/sign-in#token=…; the token (in the fragment, so it never
// reaches a server log or a Referer) is exchanged for a session cookie by POST /v1/sessions.
import {h, $} from './dom.js';
import {signIn} from './api.js';
import {page} from './shell.js';

const sentenceCase = (s) => s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');

async function main() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get('token');
  // The token is spent by this visit: take it out of the address bar and the history.
  history.replaceState(null, '', location.pathname);
  if (!token) {
    page(h('div', {class: 'card'},
      h('p', {}, location.hash === '#signed-out' || hash.has('signed-out') ? 'You are signed out.' : 'You are not signed in.'),
      h('p', {}, 'To sign in, open the link the business sent you by e-mail. Each link works once and for a short time; ask for a new one if yours has expired.')));
    return;
  }
  page(h('p', {class: 'muted', role: 'status'}, 'Signing you in…'));
  try {
    const s = await signIn(token);
    location.replace(s.role === 'partner' ? './' : 'inbox');
  } catch (e) {
    page(h('div', {class: 'card', role: 'alert'},
      h('p', {}, h('strong', {}, 'This sign-in link does not work. ')),
      h('p', {}, e.status === 401 && e.problem.detail ? sentenceCase(e.problem.detail) : e.message),
      h('p', {}, 'Each link works once and for a short time: ask the business for a new one.')));
  }
}

$('#title').textContent = 'Sign in';
main();
