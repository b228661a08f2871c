// Money. A partner: its commissions and invoices, and a bill for its payable commissions (one
// invoice per currency). Staff: invoices to approve, to pay, and the ones settled.
import {h, badge, table} from './dom.js';
import {all, post, isStaff, mayAct} from './api.js';
import {start, page, say, failed} from './shell.js';
import {field, form} from './forms.js';
import {money, day, when} from './format.js';
import {inboundTerms} from './terms.js';

const printable = (i) => h('a', {href: '/v1/invoices/' + i.id}, 'Printable invoice ' + i.number);

function invoiceRows(invoices, names, extra) {
  return invoices.map((i) => [i.number, names ? names[i.partner_id] || '' : badge(i.status), money(i.total), day(i.issued_on),
    day(i.due_on) + (i.overdue ? ' (overdue)' : ''), i.paid_at ? when(i.paid_at) : '—', extra ? extra(i) : printable(i)]);
}

// A bill per currency of the payable commissions: POST /v1/invoices {partner_id, commission_ids}.
function billForms(s, payable, reload) {
  const byCur = {};
  for (const c of payable) (byCur[c.currency] = byCur[c.currency] || []).push(c);
  return Object.keys(byCur).sort().map((cur) => {
    const list = byCur[cur];
    const total = list.reduce((n, c) => n + c.amount, 0);
    return form({class: 'inline-form', 'aria-label': 'Bill ' + cur}, [
      h('p', {}, plural(list.length) + ' ready to bill, ' + money(total, cur) + ' in all.'),
      h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Bill ' + money(total, cur))),
    ], async () => {
      const inv = await post('/v1/invoices', {partner_id: s.partner_id, commission_ids: list.map((c) => c.id)});
      await reload();
      say('Invoice ' + inv.number + ' for ' + money(inv.total) + ' was sent to the business.');
    });
  });
}

const plural = (n) => n === 1 ? '1 commission' : n + ' commissions';

async function partnerPage(s) {
  const [commissions, invoices, refs, agreements] = await Promise.all([all('/v1/commissions'), all('/v1/invoices'),
    all('/v1/referrals'), all('/v1/agreements')]);
  const who = Object.fromEntries(refs.map((r) => [r.id, r.prospect.name]));
  // Where the agreement says payment_terms.self_billing false, the business invoices (the API refuses the partner).
  const byBusiness = new Set(agreements.filter((a) => (inboundTerms(a).payment_terms || {}).self_billing === false)
    .map((a) => a.id));
  const due = commissions.filter((c) => c.status === 'payable' && c.kind === 'payable');
  const payable = due.filter((c) => !byBusiness.has(c.agreement_id));
  const theirs = due.filter((c) => byBusiness.has(c.agreement_id));
  commissions.reverse();
  invoices.reverse();
  const reload = () => partnerPage(s).catch(failed);
  page(
    h('section', {class: 'card', 'aria-labelledby': 'h-bill'}, h('h2', {id: 'h-bill'}, 'Bill what is payable'),
      payable.length ? billForms(s, payable, reload) : theirs.length ? null
        : h('p', {class: 'empty'}, 'Nothing is payable right now. A commission becomes payable once its holding period is over.'),
      theirs.length ? h('p', {}, plural(theirs.length) + (theirs.length === 1 ? ' is' : ' are') +
        ' payable under an agreement where the business bills you: nothing for you to do. ' +
        'The invoice will appear under “Your invoices”.') : null),
    h('section', {class: 'card', 'aria-labelledby': 'h-inv'}, h('h2', {id: 'h-inv'}, 'Your invoices'),
      table('Invoices', ['Number', 'Status', 'Total', 'Issued', 'Due', 'Paid', 'Document'], invoiceRows(invoices),
        'No invoices yet.')),
    h('section', {class: 'card', 'aria-labelledby': 'h-com'}, h('h2', {id: 'h-com'}, 'Your commissions'),
      table('Commissions', ['Client', 'Amount', 'Status', 'Payable from'],
        commissions.map((c) => [h('a', {href: 'referral?id=' + c.referral_id}, who[c.referral_id] || 'Introduction'),
          money(c.amount, c.currency) + (c.type === 'adjustment' ? ' (adjustment)' : ''), badge(c.status), day(c.payable_at)]),
        'No commissions yet.')));
}

function approveButton(i, reload) {
  return form({class: 'one'}, [h('button', {type: 'submit', 'aria-label': 'Approve ' + i.number}, 'Approve')], async () => {
    await post('/v1/invoices/' + i.id + '/approve', {}, {ifMatch: i.version});
    await reload();
    say('Invoice ' + i.number + ' is approved.');
  });
}

function rejectForm(i, reload) {
  return form({class: 'one'}, [
    field('reason', 'Reject because', {maxlength: 1000, autocomplete: 'off'}),
    h('button', {type: 'submit', class: 'danger', 'aria-label': 'Reject ' + i.number}, 'Reject'),
  ], async (v) => {
    await post('/v1/invoices/' + i.id + '/reject', {reason: v.reason}, {ifMatch: i.version});
    await reload();
    say('Invoice ' + i.number + ' is rejected; its commissions can be billed again.');
  });
}

function payForm(i, reload) {
  return form({class: 'one'}, [
    field('reference', 'Payment reference', {required: true, maxlength: 200, autocomplete: 'off'}),
    h('button', {type: 'submit', 'aria-label': 'Record payment of ' + i.number}, 'Paid'),
  ], async (v) => {
    await post('/v1/invoices/' + i.id + '/pay', {reference: v.reference}, {ifMatch: i.version});
    await reload();
    say('Invoice ' + i.number + ' is paid.');
  });
}

async function staffPage(s) {
  const [invoices, partners] = await Promise.all([all('/v1/invoices'), all('/v1/partners')]);
  const names = Object.fromEntries(partners.map((p) => [p.id, p.name]));
  invoices.reverse();
  const reload = () => staffPage(s).catch(failed);
  const act = mayAct(s);
  const heads = ['Number', 'Partner', 'Total', 'Issued', 'Due', 'Paid', act ? 'Action' : 'Document'];
  const cell = (i) => h('div', {class: 'actions'}, printable(i),
    act && i.status === 'submitted' ? [approveButton(i, reload), rejectForm(i, reload)] : null, act && i.status === 'approved' ? payForm(i, reload) : null);
  page(
    h('section', {class: 'card', 'aria-labelledby': 'h-sub'}, h('h2', {id: 'h-sub'}, 'To approve'),
      table('Invoices submitted by partners', heads, invoiceRows(invoices.filter((i) => i.status === 'submitted'), names, cell),
        'No invoice is waiting for approval.')),
    h('section', {class: 'card', 'aria-labelledby': 'h-app'}, h('h2', {id: 'h-app'}, 'To pay'),
      table('Approved invoices', heads, invoiceRows(invoices.filter((i) => i.status === 'approved'), names, cell),
        'No approved invoice is waiting for payment.')),
    h('section', {class: 'card', 'aria-labelledby': 'h-done'}, h('h2', {id: 'h-done'}, 'Settled and closed'),
      table('Other invoices', ['Number', 'Partner', 'Total', 'Issued', 'Due', 'Paid', 'Status'],
        invoiceRows(invoices.filter((i) => !['submitted', 'approved'].includes(i.status)), names, (i) => badge(i.status)),
        'None yet.')));
}

async function main() {
  const s = await start();
  if (!s) return;
  document.title = (isStaff(s) ? 'Invoices' : 'Money') + ' · Allied';
  document.getElementById('title').textContent = isStaff(s) ? 'Invoices' : 'Money';
  try {
    await (isStaff(s) ? staffPage(s) : partnerPage(s));
  } catch (e) {
    failed(e);
  }
}

main();
