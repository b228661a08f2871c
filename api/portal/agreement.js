// The partner's agreement(s) in plain words, with the signatures, and a way to sign one that
// waits for the partner's signature (POST /v1/agreements/{id}/sign {party: partner, signer_name}).
import {h} from './dom.js';
import {all, post} from './api.js';
import {start, page, say, failed} from './shell.js';
import {field, form} from './forms.js';
import {agreementCard, signatures} from './terms.js';

function signForm(a, s, reload) {
  return form({class: 'inline-form', 'aria-labelledby': 'h-sign-' + a.id}, [
    h('h3', {id: 'h-sign-' + a.id}, 'Sign this agreement'),
    field('signer_name', 'Your full name', {required: true, maxlength: 200, autocomplete: 'name'}),
    h('label', {class: 'check'}, h('input', {type: 'checkbox', name: 'agree', required: true}),
      'I have read the terms above and sign them for ' + (s.partner_name || 'my business') + '.'),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Sign')),
  ], async (v) => {
    if (!v.agree) throw new Error('Tick the box to confirm you have read the terms.');
    if (!v.signer_name) throw Object.assign(new Error('Write your name to sign.'), {fields: [{field: 'signer_name', message: 'is required'}]});
    const done = await post('/v1/agreements/' + a.id + '/sign', {party: 'partner', signer_name: v.signer_name}, {ifMatch: a.version});
    await reload();
    say(done.status === 'active' ? 'Signed: the agreement is now in force.' : 'Signed. It comes into force once the business signs too.');
  });
}

async function load(s) {
  const agreements = (await all('/v1/agreements')).filter((a) => a.direction !== 'outbound').reverse();
  const reload = () => load(s).catch(failed);
  const shown = agreements.filter((a) => !['superseded'].includes(a.status));
  page(shown.length ? shown.map((a) => agreementCard(a, [
    h('h3', {}, 'Signatures'), signatures(a),
    a.status === 'draft' && !(a.signatures && a.signatures.partner) ? signForm(a, s, reload) : null]))
    : h('p', {class: 'card'}, 'There is no written agreement yet. Introductions are still tracked, but earn nothing automatically.'));
}

async function main() {
  const s = await start({partnerOnly: true});
  if (!s) return;
  try {
    await load(s);
  } catch (e) {
    failed(e);
  }
}

main();
