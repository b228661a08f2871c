// The staff inbox: introductions waiting for acknowledgement (overdue first) with one-click
// acknowledge / engage / decline, then the ones in progress, then invoices waiting for staff.
import {h, badge} from './dom.js';
import {all, mayAct} from './api.js';
import {start, page, failed} from './shell.js';
import {money, when, day, prospectName} from './format.js';
import {staffActions} from './actions.js';

function row(r, partners, s, reload) {
  return h('li', {class: 'card', 'aria-labelledby': 'r-' + r.id},
    h('h3', {id: 'r-' + r.id}, h('a', {href: 'referral?id=' + r.id}, prospectName(r)), ' ', badge(r.status),
      r.overdue ? [' ', badge('overdue')] : null),
    h('p', {class: 'muted'}, 'From ', h('a', {href: 'partner?id=' + r.partner_id}, partners[r.partner_id] || 'a partner'),
      ' · introduced ' + when(r.created_at),
      r.status === 'submitted' ? ' · acknowledge by ' + when(r.acknowledge_by) : '',
      r.stage ? ' · stage: ' + r.stage : ''),
    r.prospect.notes ? h('p', {class: 'note'}, r.prospect.notes) : null,
    mayAct(s) ? staffActions(r, reload, false) : null,
    r.status !== 'submitted' ? h('p', {}, h('a', {href: 'referral?id=' + r.id}, 'Update, win or lose…')) : null);
}

async function load(s) {
  const [waiting, acknowledged, engaged, partners, invoices] = await Promise.all([
    all('/v1/referrals?status=submitted&direction=inbound'), all('/v1/referrals?status=acknowledged&direction=inbound'),
    all('/v1/referrals?status=engaged&direction=inbound'), all('/v1/partners'), all('/v1/invoices?status=submitted')]);
  const names = Object.fromEntries(partners.map((p) => [p.id, p.name]));
  // Overdue first, then the nearest deadline.
  waiting.sort((a, b) => (b.overdue - a.overdue) || a.acknowledge_by.localeCompare(b.acknowledge_by));
  const working = acknowledged.concat(engaged).sort((a, b) => b.updated_at.localeCompare(a.updated_at));
  const reload = () => load(s).catch(failed);
  page(
    h('section', {'aria-labelledby': 'h-wait'},
      h('h2', {id: 'h-wait'}, 'Waiting for acknowledgement (' + waiting.length + ')'),
      waiting.length ? h('ul', {class: 'plain'}, waiting.map((r) => row(r, names, s, reload)))
        : h('p', {class: 'empty'}, 'Nothing is waiting. Well done.')),
    h('section', {'aria-labelledby': 'h-work'},
      h('h2', {id: 'h-work'}, 'In progress (' + working.length + ')'),
      working.length ? h('ul', {class: 'plain'}, working.map((r) => row(r, names, s, reload)))
        : h('p', {class: 'empty'}, 'No introductions in progress.')),
    invoices.length ? h('section', {class: 'card', 'aria-labelledby': 'h-inv'},
      h('h2', {id: 'h-inv'}, 'Invoices to approve (' + invoices.length + ')'),
      h('ul', {}, invoices.map((i) => h('li', {}, i.number + ' · ' + (names[i.partner_id] || '') + ' · ' + money(i.total) +
        ' · due ' + day(i.due_on)))),
      h('p', {}, h('a', {href: 'money'}, 'Approve and pay invoices'))) : null);
}

async function main() {
  const s = await start({staffOnly: true});
  if (!s) return;
  try {
    await load(s);
  } catch (e) {
    failed(e);
  }
}

main();
