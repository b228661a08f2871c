// Introduce a client: exactly the fields POST /v1/referrals takes from a partner (the prospect and
// an optional reference of your own), the agreement it will fall under, and the duplicate
// protection answer in words.
import {h} from './dom.js';
import {all, post} from './api.js';
import {start, page, say, failed} from './shell.js';
import {field, form, filled, showError} from './forms.js';
import {day} from './format.js';
import {inboundTerms, earns} from './terms.js';

function agreementNote(agreements) {
  const a = agreements.find((x) => x.status === 'active' && x.direction !== 'outbound');
  if (!a) {
    return h('p', {class: 'notice'}, 'You have no active agreement with the business: this introduction is tracked, but earns nothing automatically.');
  }
  return h('p', {class: 'notice'}, 'This introduction falls under your agreement of ', day(a.starts_on), ': ',
    earns(inboundTerms(a)), ' ', h('a', {href: 'agreement'}, 'Read the agreement'));
}

// The 409 duplicate-referral problem in words.
function duplicateSentence(p) {
  if (p.introduced_by_you) {
    return 'This client was already introduced — by you on ' + day(p.introduced_at) +
      '. It is still protected' + (p.protected_until ? ' until ' + day(p.protected_until) : '') + ', so there is nothing more to do.';
  }
  return 'This client was already introduced by someone else' +
    (p.protected_until ? ' and is protected until ' + day(p.protected_until) : ' and is still protected') +
    '. The first introduction keeps the credit.';
}

function introduceForm() {
  return form({'aria-labelledby': 'h-form'}, [
    h('h2', {id: 'h-form'}, 'Who are you introducing?'),
    field('prospect.name', 'Name', {required: true, autocomplete: 'off', maxlength: 200}),
    field('prospect.company', 'Company', {autocomplete: 'off', maxlength: 200}),
    field('prospect.email', 'E-mail', {type: 'email', autocomplete: 'off', maxlength: 254},
      'Used to protect your introduction: the same e-mail or company domain is credited to you.'),
    field('prospect.phone', 'Phone', {type: 'tel', autocomplete: 'off', maxlength: 50}),
    field('prospect.notes', 'What they need', {tag: 'textarea', maxlength: 5000},
      'What the client is looking for, and anything the business should know.'),
    field('external_id', 'Your reference', {maxlength: 200}, 'Optional: your own id for this introduction.'),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Introduce')),
  ], async (v, f) => {
    const prospect = filled({name: v['prospect.name'], company: v['prospect.company'], email: v['prospect.email'],
      phone: v['prospect.phone'], notes: v['prospect.notes']});
    const body = filled({prospect, external_id: v.external_id});
    try {
      const r = await post('/v1/referrals', body);
      f.reset();
      say('');
      page(h('div', {class: 'card', role: 'status'},
        h('p', {}, h('strong', {}, 'Thank you: ' + r.prospect.name + ' is introduced.')),
        h('p', {}, 'The business will acknowledge it by ' + day(r.acknowledge_by) + '.'),
        h('p', {class: 'actions'}, h('a', {class: 'button', href: 'referral?id=' + r.id}, 'Follow this introduction'),
          h('a', {class: 'button secondary', href: 'introduce'}, 'Introduce another client'))));
    } catch (e) {
      if (e.slug === 'duplicate-referral') return showError(f, e, duplicateSentence(e.problem));
      throw e;
    }
  });
}

async function main() {
  const s = await start({partnerOnly: true});
  if (!s) return;
  try {
    const agreements = await all('/v1/agreements');
    page(agreementNote(agreements), h('div', {class: 'card'}, introduceForm()));
  } catch (e) {
    failed(e);
  }
}

main();
