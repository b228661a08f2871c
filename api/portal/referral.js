// One introduction: its timeline, the commission on it, and what the viewer may do next — the
// partner adds to the notes or withdraws; staff acknowledge, engage, update, win, lose, decline.
import {h, param, badge, facts, table, fill, $} from './dom.js';
import {get, all, post, patch, isStaff, mayAct} from './api.js';
import {start, page, say, failed} from './shell.js';
import {field, form, filled} from './forms.js';
import {money, day, when, prospectName} from './format.js';
import {staffActions} from './actions.js';

const WORDS = {
  submitted: 'Introduced', acknowledged: 'Acknowledged', engaged: 'In talks', updated: 'Update', won: 'Won',
  lost: 'Lost', declined: 'Declined', withdrawn: 'Withdrawn', edited: 'Notes or details edited',
};
const OPEN = ['submitted', 'acknowledged', 'engaged'];

function timeline(events, r, s) {
  return h('ol', {class: 'timeline'}, events.map((e) => {
    const who = e.actor && e.actor.role === 'partner' ? (isStaff(s) ? 'the partner' : 'you') : (isStaff(s) ? 'staff' : 'the business');
    return h('li', {},
      h('strong', {}, WORDS[e.type] || e.type),
      e.stage ? ' — stage: ' + e.stage : '',
      e.type === 'won' && r.deal ? ' — deal of ' + money(r.deal) : '',
      h('span', {class: 'at'}, when(e.at) + ' · by ' + who),
      e.note ? h('p', {class: 'note'}, e.note) : null);
  }));
}

function commissionsCard(list, staff) {
  if (!list.length) return null;
  return h('section', {class: 'card', 'aria-labelledby': 'h-com'}, h('h2', {id: 'h-com'}, 'Commission'),
    table('Commission on this introduction', ['Amount', 'Status', 'Payable from'],
      list.map((c) => [money(c.amount, c.currency), badge(c.status), day(c.payable_at)])),
    h('p', {}, h('a', {href: 'money'}, staff ? 'Invoices' : 'Bill it or see your invoices')));
}

// The partner's side: notes for the business (the prospect's notes) and withdrawing.
function partnerActions(r, reload) {
  if (!OPEN.includes(r.status)) return null;
  const notes = form({'aria-labelledby': 'h-note'}, [
    h('h3', {id: 'h-note'}, 'Add a note for the business'),
    field('note', 'Note', {tag: 'textarea', maxlength: 2000, required: true}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Add the note')),
  ], async (v) => {
    if (!v.note) throw Object.assign(new Error('Write the note first.'), {fields: [{field: 'note', message: 'is empty'}]});
    const stamp = new Date().toISOString().slice(0, 10);
    const text = ((r.prospect.notes ? r.prospect.notes + '\n\n' : '') + stamp + ': ' + v.note).slice(-5000);
    await patch('/v1/referrals/' + r.id, {prospect: {notes: text}}, {ifMatch: r.version});
    await reload();
    say('Your note was added.');
  });
  const withdraw = form({'aria-labelledby': 'h-wd', class: 'inline-form'}, [
    h('h3', {id: 'h-wd'}, 'Withdraw this introduction'),
    field('reason', 'Why (optional)', {maxlength: 1000}),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'danger'}, 'Withdraw')),
  ], async (v) => {
    await post('/v1/referrals/' + r.id + '/withdraw', filled({reason: v.reason}), {ifMatch: r.version});
    await reload();
    say('The introduction was withdrawn.');
  });
  return h('section', {class: 'card'}, notes, withdraw);
}

async function load(s, id) {
  const [r, events, commissions] = await Promise.all([
    get('/v1/referrals/' + id), get('/v1/referrals/' + id + '/events?limit=500'),
    all('/v1/commissions?referral_id=' + id)]);
  document.title = prospectName(r) + ' · Allied';
  fill($('#title'), prospectName(r), ' ', badge(r.status));
  const reload = () => load(s, id).catch(failed);
  const p = r.prospect;
  page(h('div', {class: 'grid grid-2'},
    h('div', {},
      h('section', {class: 'card', 'aria-labelledby': 'h-who'}, h('h2', {id: 'h-who'}, 'Client'),
        facts([['Name', p.name], ['Company', p.company], ['E-mail', p.email], ['Phone', p.phone], ['Notes', p.notes],
          ['Introduced', when(r.created_at)],
          r.status === 'submitted' ? ['Acknowledge by', when(r.acknowledge_by) + (r.overdue ? ' (overdue)' : '')] : null,
          ['Stage', r.stage], r.deal ? ['Deal', money(r.deal)] : null,
          r.close_reason ? ['Reason', r.close_reason] : null, r.close_note ? ['Closing note', r.close_note] : null])),
      commissionsCard(commissions, isStaff(s)),
      isStaff(s) ? (mayAct(s) ? staffActions(r, reload, true) : null) : partnerActions(r, reload)),
    h('section', {class: 'card', 'aria-labelledby': 'h-tl'}, h('h2', {id: 'h-tl'}, 'Timeline'), timeline(events.data, r, s))));
}

async function main() {
  const s = await start();
  if (!s) return;
  const id = param('id');
  if (!id) return failed(new Error('No introduction was named: open one from the list.'));
  try {
    await load(s, id);
  } catch (e) {
    failed(e.status === 404 ? new Error('There is no such introduction, or it is not yours to see.') : e);
  }
}

main();
