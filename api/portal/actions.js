// Staff actions on an introduction (the receiving side of the workflow): what the current status
// allows, each one click or a short form. `full` adds update, win and lose (the referral page).
import {h} from './dom.js';
import {post} from './api.js';
import {say} from './shell.js';
import {field, form, filled} from './forms.js';
import {toMinor} from './format.js';

const DECLINE = [['not_a_fit', 'Not a fit'], ['duplicate', 'Duplicate'], ['out_of_scope', 'Out of scope'], ['other', 'Other']];

function act(r, action, body, done, what) {
  return post('/v1/referrals/' + r.id + '/' + action, body, {ifMatch: r.version}).then(async () => {
    await done();
    say(what);
  });
}

// One button that runs one action (its label names the client for screen readers).
function oneClick(r, action, label, done, what, cls) {
  return form({class: 'one'}, [h('button', {type: 'submit', class: cls || null,
    'aria-label': label + ': ' + r.prospect.name}, label)], () => act(r, action, {}, done, what));
}

function declineForm(r, done) {
  return form({class: 'one'}, [
    field('reason', 'Decline because', {tag: 'select', options: DECLINE}),
    h('button', {type: 'submit', class: 'danger', 'aria-label': 'Decline: ' + r.prospect.name}, 'Decline'),
  ], (v) => act(r, 'decline', {reason: v.reason}, done, r.prospect.name + ' was declined.'));
}

export function staffActions(r, done, full) {
  const s = r.status;
  const quick = h('div', {class: 'actions'},
    s === 'submitted' ? oneClick(r, 'acknowledge', 'Acknowledge', done, r.prospect.name + ' is acknowledged.') : null,
    s === 'acknowledged' ? oneClick(r, 'engage', 'Engage', done, r.prospect.name + ' is now in talks.', 'secondary') : null,
    s === 'submitted' || s === 'acknowledged' ? declineForm(r, done) : null);
  if (!full) return quick;
  const working = s === 'acknowledged' || s === 'engaged';
  if (!working && s !== 'submitted') return null; // closed: nothing more to do
  return h('section', {class: 'card', 'aria-labelledby': 'h-act'}, h('h2', {id: 'h-act'}, 'Next step'),
    quick,
    working ? form({class: 'inline-form', 'aria-labelledby': 'h-upd'}, [
      h('h3', {id: 'h-upd'}, 'Tell the partner how it is going'),
      field('stage', 'Stage (optional)', {maxlength: 100}, 'For example: proposal sent.'),
      field('note', 'Update', {tag: 'textarea', maxlength: 5000, required: true}),
      h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Send the update')),
    ], (v) => act(r, 'update', filled({stage: v.stage, note: v.note}), done, 'The update was sent.')) : null,
    working ? form({class: 'inline-form', 'aria-labelledby': 'h-win'}, [
      h('h3', {id: 'h-win'}, 'Won'),
      field('deal.amount', 'Deal amount', {inputmode: 'decimal', required: true, autocomplete: 'off'}, 'In the currency below, e.g. 12000 or 12000.50.'),
      field('deal.currency', 'Currency', {maxlength: 3, value: 'EUR', autocomplete: 'off'}, 'Three letters (ISO 4217), e.g. EUR, USD, GBP.'),
      field('note', 'Note (optional)', {tag: 'textarea', maxlength: 5000}),
      h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Mark as won')),
    ], (v) => {
      const currency = v['deal.currency'].toUpperCase();
      const amount = toMinor(v['deal.amount'], currency);
      if (Number.isNaN(amount)) {
        throw Object.assign(new Error('The deal amount is not a number the currency can hold.'),
          {fields: [{field: 'deal.amount', message: 'must be a number like 12000.50'}]});
      }
      return act(r, 'win', filled({deal: {amount, currency}, note: v.note}), done, r.prospect.name + ' is won.');
    }) : null,
    working ? form({class: 'inline-form', 'aria-labelledby': 'h-lose'}, [
      h('h3', {id: 'h-lose'}, 'Lost'),
      field('reason', 'Why it was lost', {maxlength: 1000, required: true}),
      h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'danger'}, 'Mark as lost')),
    ], (v) => act(r, 'lose', {reason: v.reason}, done, r.prospect.name + ' is lost.')) : null);
}
