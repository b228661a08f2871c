// An agreement in plain words, for the partner: scope, what they earn, when they are paid, the
// holding period, protection, guidelines, termination.
import {h, facts, badge} from './dom.js';
import {money, percent, day, when, plural} from './format.js';

// The terms that apply to introductions the partner makes (inbound; a reciprocal agreement has two sets).
export const inboundTerms = (a) => (a.direction === 'reciprocal' ? a.inbound_terms : a.terms) || {};

export function earns(t) {
  const c = t.compensation || {};
  if (c.model === 'percentage') {
    return percent(c.rate_bps) + ' of the value of each deal won from your introduction' +
      (c.cap ? ', at most ' + money(c.cap) + ' a deal' : '') + '.';
  }
  if (c.model === 'fixed') return money(c.amount, c.currency) + ' for each deal won from your introduction.';
  return 'No commission: this agreement is not paid in money.';
}

export function plainTerms(t) {
  const pay = t.payment_terms || {};
  const within = plural(pay.net_days ?? 30, 'day', 'days') + ' of ' + (pay.self_billing === false ? 'its' : 'your') +
    ' invoice' + (pay.method ? ', by ' + pay.method : '') + '.';
  const term = t.termination || {};
  return facts([
    ['Scope', t.scope || 'Not written down.'],
    ['What you earn', earns(t)],
    t.client_discount_bps ? ['Your client’s discount', percent(t.client_discount_bps) + ' off for the clients you introduce.'] : null,
    ['When you are paid', pay.self_billing === false
      ? 'The business invoices your commissions and pays within ' + within : 'Within ' + within],
    ['Holding period', t.holding_days ? 'A commission can be billed ' + plural(t.holding_days, 'day', 'days') +
      ' after the deal is won (the refund window).' : 'A commission can be billed as soon as the deal is won.'],
    ['Protection', 'An introduction you make is credited to you for ' + plural(t.protection_days ?? 90, 'day', 'days') + '.'],
    ['Acknowledgement', 'The business acknowledges each introduction within ' +
      plural(t.acknowledge_within_hours ?? 48, 'hour', 'hours') + '.'],
    ['Guidelines', t.guidelines || 'None written down.'],
    ['Ending it', (term.notice_days ? plural(term.notice_days, 'day', 'days') + '’ notice. ' : 'No notice period. ') +
      (term.conditions || '')],
    t.disclosure_required ? ['Disclosure', 'Tell your clients that you are paid for the introduction.'] : null,
  ]);
}

export function signatures(a) {
  const s = a.signatures || {};
  const one = (who, sig) => sig ? 'Signed by ' + sig.signer_name + ' on ' + when(sig.signed_at) : who + ' has not signed yet';
  return facts([['Business', one('The business', s.vendor)], ['Partner', one('The partner', s.partner)]]);
}

export function agreementCard(a, extra) {
  const t = inboundTerms(a);
  return h('section', {class: 'card', 'aria-labelledby': 'ag-' + a.id},
    h('h2', {id: 'ag-' + a.id}, 'Agreement from ', day(a.starts_on), a.ends_on ? ' to ' + day(a.ends_on) : '', ' ', badge(a.status)),
    plainTerms(t),
    extra || null);
}
