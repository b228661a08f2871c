// The partner's home: open introductions, money owed by state and currency, the agreement in words.
import {h, table, badge} from './dom.js';
import {all, isStaff} from './api.js';
import {start, page, failed} from './shell.js';
import {money, day, prospectName} from './format.js';
import {agreementCard} from './terms.js';

const OPEN = ['submitted', 'acknowledged', 'engaged'];
const STATES = ['pending', 'payable', 'invoiced', 'paid'];

function introductions(refs) {
  const open = refs.filter((r) => OPEN.includes(r.status));
  const closed = refs.filter((r) => !OPEN.includes(r.status)).slice(0, 10);
  const rows = (list) => list.map((r) => [
    h('a', {href: 'referral?id=' + r.id}, prospectName(r)), badge(r.status), day(r.created_at),
    r.stage || (r.status === 'submitted' ? 'Waiting for acknowledgement' : '')]);
  return h('section', {class: 'card', 'aria-labelledby': 'h-open'},
    h('h2', {id: 'h-open'}, 'Open introductions'),
    table('Introductions still in progress', ['Client', 'Status', 'Introduced', 'Latest'], rows(open),
      'No open introductions. Introduce a client to get started.'),
    h('p', {}, h('a', {class: 'button', href: 'introduce'}, 'Introduce a client')),
    closed.length ? h('details', {}, h('summary', {}, 'Recently closed'),
      table('Closed introductions', ['Client', 'Status', 'Introduced', 'Latest'], rows(closed))) : null);
}

// {currency: {pending: n, payable: n, invoiced: n, paid: n}} of payable-kind commissions.
function owed(commissions) {
  const by = {};
  for (const c of commissions) {
    if (c.kind !== 'payable' || !STATES.includes(c.status)) continue;
    by[c.currency] = by[c.currency] || {pending: 0, payable: 0, invoiced: 0, paid: 0};
    by[c.currency][c.status] += c.amount;
  }
  return by;
}

function moneyCard(commissions) {
  const by = owed(commissions);
  const rows = Object.keys(by).sort().map((cur) => [cur, ...STATES.map((s) => money(by[cur][s], cur))]);
  return h('section', {class: 'card', 'aria-labelledby': 'h-money'},
    h('h2', {id: 'h-money'}, 'What you are owed'),
    h('p', {class: 'hint'}, 'Pending: won, still in the holding period. Payable: ready to bill. Invoiced: on an invoice. Paid: settled.'),
    table('Commissions by state and currency', ['Currency', 'Pending', 'Payable', 'Invoiced', 'Paid'], rows,
      'No commissions yet: they appear when a deal from your introduction is won.'),
    h('p', {}, h('a', {href: 'money'}, 'Commissions and invoices')));
}

async function main() {
  const s = await start();
  if (!s) return;
  if (isStaff(s)) return location.replace('inbox');
  try {
    const [refs, commissions, agreements] = await Promise.all([
      all('/v1/referrals'), all('/v1/commissions'), all('/v1/agreements')]);
    refs.reverse();
    const current = agreements.filter((a) => ['active', 'draft', 'suspended'].includes(a.status) && a.direction !== 'outbound');
    page(h('div', {class: 'grid grid-2'}, introductions(refs), moneyCard(commissions)),
      current.length ? current.map((a) => agreementCard(a, a.status === 'draft'
        ? h('p', {}, h('a', {class: 'button', href: 'agreement'}, 'Read and sign')) : null))
        : h('section', {class: 'card'}, h('h2', {}, 'Agreement'),
          h('p', {}, 'There is no written agreement yet: your introductions are tracked but earn nothing automatically.')));
  } catch (e) {
    failed(e);
  }
}

main();
