// Staff: the partners (without ?id=) or one partner's relationship page — its scorecard
// (GET /v1/reports/partners/{id}), the reciprocity balance, commitments and check-ins.
import {h, param, badge, table, facts, fill, $} from './dom.js';
import {get, all, post, mayAct} from './api.js';
import {start, page, say, failed} from './shell.js';
import {field, form, filled} from './forms.js';
import {money, day, when, percent, plural} from './format.js';

const moneyList = (list) => (list && list.length ? list.map((m) => money(m)).join(' + ') : 'nothing');
const amounts = (list) => (list && list.length ? list.map((m) => money(m)).join(', ') : 'none');

async function list() {
  const [partners, scores] = await Promise.all([all('/v1/partners'), get('/v1/reports/partners').then((r) => r.data)]);
  const score = Object.fromEntries(scores.map((s) => [s.partner_id, s]));
  page(table('Partners', ['Partner', 'Status', 'Introductions to us', 'Won', 'Days since the last'],
    partners.map((p) => {
      const s = score[p.id];
      return [h('a', {href: 'partner?id=' + p.id}, p.name + (p.company ? ' (' + p.company + ')' : '')), badge(p.status),
        s ? String(s.inbound.referrals) : '—', s ? String(s.inbound.won) : '—',
        s && s.days_since_last_referral !== null ? String(s.days_since_last_referral) : '—'];
    }), 'No partners yet.'));
}

function sideRows(sc) {
  const row = (label, f) => [label, f(sc.inbound), f(sc.outbound)];
  const hours = (d) => (d.median_hours_to_acknowledge === null ? '—' : d.median_hours_to_acknowledge.toFixed(1) + ' h');
  return [
    row('Introductions', (d) => String(d.referrals)), row('Acknowledged', (d) => String(d.acknowledged)),
    row('Qualified', (d) => String(d.qualified)), row('Won', (d) => String(d.won)), row('Lost', (d) => String(d.lost)),
    row('Conversion', (d) => (d.conversion_rate === null ? '—' : percent(Math.round(d.conversion_rate * 10000)))),
    row('Median time to acknowledge', hours), row('Value won', (d) => amounts(d.won_value)),
  ];
}

function reciprocity(sc) {
  const given = sc.inbound.referrals, got = sc.outbound.referrals;
  const words = given === got ? 'balanced' : given > got ? 'they give more than they receive' : 'you give more than you receive';
  return h('p', {}, 'They introduced ' + plural(given, 'client', 'clients') + ' to you; you introduced ' + got + ' to them (' + words + ').');
}

function checkInForm(id, reload) {
  return form({class: 'inline-form', 'aria-labelledby': 'h-ci-new'}, [
    h('h3', {id: 'h-ci-new'}, 'Record a check-in'),
    field('held_on', 'Held on', {type: 'date', required: true, value: new Date().toISOString().slice(0, 10)}),
    field('notes', 'Notes', {tag: 'textarea', maxlength: 5000}),
    field('next_due_on', 'Next check-in due', {type: 'date'}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Save the check-in')),
  ], async (v) => {
    await post('/v1/partners/' + id + '/check-ins', filled(v));
    await reload();
    say('The check-in was recorded.');
  });
}

// A one-time sign-in link for a person at the partner (POST /v1/partners/{id}/portal-links):
// shown once, to pass on (the server also e-mails it when it can).
function inviteForm(p) {
  const out = h('div', {'aria-live': 'polite'});
  return h('div', {}, form({class: 'inline-form', 'aria-labelledby': 'h-inv-new'}, [
    h('h3', {id: 'h-inv-new'}, 'Invite someone to the portal'),
    field('email', 'E-mail', {type: 'email', maxlength: 254, autocomplete: 'off', value: p.email || ''},
      'Empty: the partner’s own e-mail. The link works once, for a short time.'),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Make a sign-in link')),
  ], async (v) => {
    const link = await post('/v1/partners/' + p.id + '/portal-links', filled({email: v.email}));
    fill(out, h('div', {class: 'field'}, h('label', {for: 'new-link'}, 'Sign-in link for ' + link.email + ' (until ' + when(link.expires_at) + ')' +
      (link.emailed ? ', also sent to them by e-mail' : '')),
      h('input', {id: 'new-link', readonly: true, value: link.url})));
  }), out);
}

async function one(s, id) {
  const [p, sc, commitments, checkins] = await Promise.all([get('/v1/partners/' + id), get('/v1/reports/partners/' + id),
    get('/v1/partners/' + id + '/commitments'), get('/v1/partners/' + id + '/check-ins')]);
  document.title = p.name + ' · Allied';
  fill($('#title'), p.name, ' ', badge(p.status));
  const reload = () => one(s, id).catch(failed);
  page(h('div', {class: 'grid grid-2'},
    h('section', {class: 'card', 'aria-labelledby': 'h-sc'},
      h('h2', {id: 'h-sc'}, 'Scorecard, ' + day(sc.from) + ' – ' + day(sc.to)),
      reciprocity(sc),
      table('Both directions', ['Figure', 'From them', 'From you'], sideRows(sc)),
      h('h3', {}, 'Money'),
      facts([['You owe them', moneyList(sc.commissions.payable.owed)], ['You paid them', moneyList(sc.commissions.payable.paid)],
        ['They owe you', moneyList(sc.commissions.receivable.owed)], ['They paid you', moneyList(sc.commissions.receivable.paid)],
        ['Net balance', moneyList(sc.net_balance)],
        ['Since their last introduction', sc.days_since_last_referral === null ? 'none yet' : sc.days_since_last_referral + ' days']])),
    h('div', {},
      h('section', {class: 'card', 'aria-labelledby': 'h-p'}, h('h2', {id: 'h-p'}, 'Partner'),
        facts([['Company', p.company], ['E-mail', p.email], ['Phone', p.phone], ['Kind', p.kind], ['Ideal client', p.ideal_client]]),
        mayAct(s) ? inviteForm(p) : null),
      h('section', {class: 'card', 'aria-labelledby': 'h-cm'}, h('h2', {id: 'h-cm'}, 'Commitments'),
        table('Commitments', ['Period', 'Goal', 'Achieved', 'Status'], commitments.data.map((c) => [
          day(c.period_start) + ' – ' + day(c.period_end),
          c.target_count + (c.qualified_only ? ' qualified' : '') + ' introductions ' + (c.direction === 'inbound' ? 'from them' : 'from you') +
            (c.note ? ' — ' + c.note : ''),
          String(c.achieved), badge(c.status)]), 'No commitments.')),
      h('section', {class: 'card', 'aria-labelledby': 'h-ci'}, h('h2', {id: 'h-ci'}, 'Check-ins'),
        table('Check-ins', ['Held on', 'Notes', 'Next due'], checkins.data.slice().reverse().map((k) => [day(k.held_on), k.notes || '', day(k.next_due_on)]),
          'No check-ins yet.'),
        mayAct(s) ? checkInForm(id, reload) : null))));
}

async function main() {
  const s = await start({staffOnly: true});
  if (!s) return;
  const id = param('id');
  try {
    await (id ? one(s, id) : list());
  } catch (e) {
    failed(e.status === 404 ? new Error('There is no such partner.') : e);
  }
}

main();
