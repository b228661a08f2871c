// The portal in a real browser (headless Chromium driven by puppeteer-core), run by
// tests/http/test_portal.py: a partner follows a sign-in link, signs the agreement, introduces a
// client and is told it is a duplicate on a second try; staff acknowledge and win it in the
// inbox; once the holding period has passed (the test moves payable_at back, as lib.psql does
// for every test that needs time to pass) the partner bills the commission; staff approve and pay
// the invoice; the partner sees it paid and signs out.
// Every page is checked with axe-core (no serious or critical violation) and screenshotted on a
// phone (390×844) and a desktop (1366×900); any console error, page error, failed request or
// unexpected HTTP error fails the run.
//
// Environment: PORTAL_BASE (http://127.0.0.1:PORT), PORTAL_FIXTURE (JSON file: partner_link,
// staff_link, partner_name, psql, database_url), PORTAL_SHOTS (folder), CHROMIUM, NODE_PATH
// (puppeteer-core, axe-core). Prints one line per step; exits non-zero on the first failure.
import {createRequire} from 'node:module';
import {execFileSync} from 'node:child_process';
import {readFileSync, mkdirSync} from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const puppeteer = require('puppeteer-core');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const BASE = process.env.PORTAL_BASE;
const FIX = JSON.parse(readFileSync(process.env.PORTAL_FIXTURE, 'utf8'));
const SHOTS = process.env.PORTAL_SHOTS;
mkdirSync(SHOTS, {recursive: true});

const problems = []; // console errors, page errors, failed or unexpected requests
const allowed = []; // [{status, method, path}] answers a step expects to be refused
// "Failed to load resource" lines those expected refusals may log. Counted when a refusal is
// expected, not when its response arrives: Chromium may report the console line first.
let allowedConsole = 0;

function allow(refusal) {
  allowed.push(refusal);
  allowedConsole++;
}
const checkedPages = new Set();

function step(text) {
  console.log('step: ' + text);
}

function fail(text) {
  throw new Error(text);
}

// Watches one tab for anything that must not happen.
function watch(page, who) {
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warn') return;
    const text = m.text();
    if (/^Failed to load resource: the server responded with a status of/.test(text) && allowedConsole > 0) {
      allowedConsole--;
      return;
    }
    problems.push(who + ' console ' + m.type() + ': ' + text + ' at ' + page.url());
  });
  page.on('pageerror', (e) => problems.push(who + ' page error: ' + e.message + ' at ' + page.url()));
  page.on('requestfailed', (r) => {
    const why = r.failure() ? r.failure().errorText : '?';
    if (why === 'net::ERR_ABORTED' && r.resourceType() !== 'document') return; // a fetch cut short by navigating away
    problems.push(who + ' request failed: ' + r.method() + ' ' + r.url() + ' ' + why);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const u = new URL(r.url());
    const i = allowed.findIndex((a) => a.status === r.status() && a.method === r.request().method() && a.path === u.pathname);
    if (i >= 0) {
      allowed.splice(i, 1);
      return;
    }
    problems.push(who + ' unexpected ' + r.status() + ' for ' + r.request().method() + ' ' + u.pathname);
  });
}

function clean(where) {
  if (problems.length) fail(where + ': ' + problems.join('\n'));
}

// axe-core on the page as it is now (run through DevTools, so the page's CSP is untouched).
async function axe(page, name) {
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, {resultTypes: ['violations']});
    return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) fail('axe on ' + name + ': ' + JSON.stringify(bad));
  if (res.length) console.log('axe minor on ' + name + ': ' + res.map((v) => v.id + '(' + v.impact + ')').join(', '));
}

// Screenshots on a phone and a desktop, then back to the desktop size.
async function shots(page, name) {
  await page.setViewport({width: 390, height: 844, deviceScaleFactor: 1}); // isMobile would reload the page
  await page.screenshot({path: path.join(SHOTS, name + '-phone.png'), fullPage: true});
  await page.setViewport({width: 1366, height: 900, deviceScaleFactor: 1});
  await page.screenshot({path: path.join(SHOTS, name + '-desktop.png'), fullPage: true});
}

// Every page: accessible, screenshotted (the first time it is seen, or when named again).
async function check(page, name) {
  await axe(page, name);
  await shots(page, name);
  checkedPages.add(new URL(page.url()).pathname);
  clean(name);
}

async function text(page) {
  return page.evaluate(() => document.body.innerText);
}

async function waitText(page, needle, what) {
  try {
    await page.waitForFunction((n) => document.body.innerText.includes(n), {timeout: 15000}, needle);
  } catch {
    fail((what || 'waiting') + ': "' + needle + '" never appeared on ' + page.url() + '\n---\n' + (await text(page)).slice(0, 2000));
  }
}

async function go(page, rel, needle) {
  await page.goto(BASE + rel, {waitUntil: 'load'});
  if (needle) await waitText(page, needle, 'opening ' + rel);
}

async function fillForm(page, scope, values) {
  for (const [name, value] of Object.entries(values)) {
    const sel = scope + ' [name="' + name + '"]';
    await page.$eval(sel, (el) => { el.value = ''; });
    await page.type(sel, value);
  }
}

async function clickButton(page, label) {
  const btn = await page.waitForSelector('::-p-xpath(//button[normalize-space()="' + label + '" or @aria-label="' + label + '"])', {timeout: 15000});
  await btn.click();
}

const link = (u) => BASE + new URL(u).pathname + new URL(u).hash;

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--lang=en-GB'],
  });
  try {
    const partnerCtx = await browser.createBrowserContext();
    const staffCtx = await browser.createBrowserContext();
    const P = await partnerCtx.newPage();
    const S = await staffCtx.newPage();
    for (const [pg, who] of [[P, 'partner'], [S, 'staff']]) {
      watch(pg, who);
      await pg.setViewport({width: 1366, height: 900});
    }

    step('the partner follows the sign-in link and lands on the home page');
    await P.goto(link(FIX.partner_link), {waitUntil: 'networkidle0'});
    await waitText(P, 'Open introductions', 'after the sign-in link');
    if (new URL(P.url()).hash) fail('the token stayed in the address: ' + P.url());
    await waitText(P, FIX.partner_name);
    await check(P, 'partner-home-start');

    step('the keyboard reaches the skip link first, and it leads to the content');
    await P.keyboard.press('Tab');
    if (await P.evaluate(() => document.activeElement.className) !== 'skip') fail('the first Tab stop is not the skip link');
    await P.keyboard.press('Enter');
    await P.waitForFunction(() => document.activeElement.id === 'main', {timeout: 5000});

    step('the partner reads and signs the agreement');
    await go(P, '/portal/agreement', 'Sign this agreement');
    await waitText(P, 'What you earn');
    await check(P, 'partner-agreement');
    await fillForm(P, 'form', {signer_name: 'Pat Partner'});
    await P.click('input[name="agree"]');
    await clickButton(P, 'Sign');
    await waitText(P, 'the agreement is now in force');
    await waitText(P, 'Signed by Pat Partner');

    step('the partner introduces a client');
    await go(P, '/portal/introduce', 'This introduction falls under your agreement');
    await check(P, 'partner-introduce');
    await fillForm(P, 'form', {'prospect.name': 'Grace Hopper', 'prospect.company': 'Cobol Systems',
      'prospect.email': 'grace@cobol-systems.example', 'prospect.notes': 'Needs help with a compiler audit.'});
    await clickButton(P, 'Introduce');
    await waitText(P, 'Grace Hopper is introduced');
    await check(P, 'partner-introduced');
    const refPath = await P.$eval('a.button[href^="referral?id="]', (a) => new URL(a.href).pathname + new URL(a.href).search);

    step('a second introduction of the same client is refused in words');
    await go(P, '/portal/introduce', 'Who are you introducing?');
    await fillForm(P, 'form', {'prospect.name': 'G. Hopper', 'prospect.email': 'hopper@cobol-systems.example'});
    allow({status: 409, method: 'POST', path: '/v1/referrals'});
    await clickButton(P, 'Introduce');
    await waitText(P, 'already introduced — by you on');
    if (allowed.length) fail('the duplicate was not refused by the API');
    await check(P, 'partner-duplicate');

    step('a missing name is shown next to the field');
    await fillForm(P, 'form', {'prospect.name': ' ', 'prospect.email': 'someone@elsewhere.example'});
    await P.$eval('[name="prospect.name"]', (el) => { el.value = ''; });
    allow({status: 400, method: 'POST', path: '/v1/referrals'});
    await clickButton(P, 'Introduce');
    await P.waitForSelector('[name="prospect.name"][aria-invalid="true"]', {timeout: 15000});
    await waitText(P, 'Is required');
    clean('field error');

    step('the partner adds a note to the open introduction');
    await go(P, refPath, 'Add a note for the business');
    await fillForm(P, 'form[aria-labelledby="h-note"]', {note: 'They prefer calls in the morning.'});
    await clickButton(P, 'Add the note');
    await waitText(P, 'Your note was added');
    await waitText(P, 'They prefer calls in the morning.');
    await check(P, 'partner-referral-open');

    step('staff follow their sign-in link to the inbox and acknowledge the introduction');
    await S.goto(link(FIX.staff_link), {waitUntil: 'networkidle0'});
    await waitText(S, 'Waiting for acknowledgement (2)', 'the staff inbox');
    await waitText(S, 'Grace Hopper');
    const order = await S.$$eval('section[aria-labelledby="h-wait"] li h3', (hs) => hs.map((x) => x.textContent));
    if (!(order.length === 2 && order[0].includes(FIX.late_name) && order[0].includes('overdue')))
      fail('the overdue introduction is not first in the inbox: ' + JSON.stringify(order));
    await check(S, 'staff-inbox');
    await clickButton(S, 'Acknowledge: Grace Hopper');
    await waitText(S, 'Grace Hopper is acknowledged');
    await waitText(S, 'In progress (1)');
    await waitText(S, 'Waiting for acknowledgement (1)');

    step('staff tell the partner how it is going, on its page');
    await go(S, refPath, 'Send the update');
    await fillForm(S, 'form[aria-labelledby="h-upd"]', {stage: 'Proposal sent', note: 'Proposal sent on Monday; decision expected this week.'});
    await clickButton(S, 'Send the update');
    await waitText(S, 'The update was sent');

    step("the partner's home page lists it as open, with the stage staff gave");
    await go(P, '/portal/', 'Open introductions');
    await waitText(P, 'Grace Hopper (Cobol Systems)');
    await waitText(P, 'Proposal sent');
    await check(P, 'partner-home-open');

    step('staff win it with the deal amount');
    await fillForm(S, 'form[aria-labelledby="h-win"]', {'deal.amount': '12000', 'deal.currency': 'EUR'});
    await clickButton(S, 'Mark as won');
    await waitText(S, 'Grace Hopper is won');
    await waitText(S, 'Won — deal of €12,000.00');
    await check(S, 'staff-referral-won');

    step('the partner follows it: the timeline and a pending commission');
    await go(P, refPath, 'Timeline');
    await waitText(P, 'Acknowledged');
    await waitText(P, 'Proposal sent on Monday; decision expected this week.');
    await waitText(P, 'Won');
    await waitText(P, '€1,200.00');
    await waitText(P, 'pending');
    await check(P, 'partner-referral');

    step('before the holding period ends nothing is payable');
    await go(P, '/portal/money', 'Nothing is payable right now');

    step('the holding period passes: the partner bills the payable commission');
    execFileSync(FIX.psql, ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', FIX.database_url, '-c',
      "UPDATE commissions SET payable_at = now() - interval '1 second' WHERE tenant_id = '" + FIX.tenant_id +
      "' AND status = 'pending'"]);
    await go(P, '/portal/money', 'Bill €1,200.00');
    await check(P, 'partner-money-payable');
    await clickButton(P, 'Bill €1,200.00');
    await waitText(P, 'was sent to the business');
    await waitText(P, 'submitted');
    const invoicePath = await P.$eval('a[href^="/v1/invoices/"]', (a) => new URL(a.href).pathname);

    step('staff approve and pay the invoice');
    await go(S, '/portal/money', 'To approve');
    await check(S, 'staff-invoices');
    await waitText(S, '€1,200.00');
    const number = await S.$eval('tbody th', (th) => th.textContent);
    await clickButton(S, 'Approve ' + number);
    await waitText(S, 'Invoice ' + number + ' is approved');
    await fillForm(S, 'form', {reference: 'BANK-2026-0042'});
    await clickButton(S, 'Record payment of ' + number);
    await waitText(S, 'Invoice ' + number + ' is paid');

    step('the partner sees it paid, on the money page, the home page and the printable invoice');
    await go(P, '/portal/money', 'paid');
    await check(P, 'partner-money-paid');
    await go(P, '/portal/', 'What you are owed');
    const paidCell = await P.$$eval('table', (ts) => ts.map((t) => t.innerText).join('\n'));
    if (!/EUR[^\n]*€1,200\.00\s*$/m.test(paidCell)) fail('the home page does not show €1,200.00 paid:\n' + paidCell);
    await check(P, 'partner-home');
    await go(P, invoicePath, number);

    step('staff see the partner relationship page');
    await go(S, '/portal/partner', FIX.partner_name);
    await check(S, 'staff-partners');
    await S.click('tbody a');
    await waitText(S, 'Scorecard');
    await waitText(S, 'They introduced 1 client to you');
    await clickButton(S, 'Make a sign-in link');
    await S.waitForSelector('#new-link', {timeout: 15000});
    const invite = await S.$eval('#new-link', (el) => el.value);
    if (!/\/portal\/sign-in#token=[\w-]{20,}$/.test(invite)) fail('the invitation is not a sign-in link: ' + invite);
    await check(S, 'staff-partner');

    step('signing out ends the session');
    await go(P, '/portal/', 'Sign out');
    await P.click('header button');
    await P.waitForFunction(() => location.pathname === '/portal/sign-in', {timeout: 15000});
    await waitText(P, 'You are signed out');
    allow({status: 401, method: 'GET', path: '/v1/session'});
    await go(P, '/portal/money', 'You are not signed in');
    await check(P, 'partner-signed-out');

    step('the used sign-in link, followed again in another browser, says why it does not work');
    const other = await (await browser.createBrowserContext()).newPage();
    watch(other, 'stranger');
    allow({status: 401, method: 'POST', path: '/v1/sessions'});
    await other.goto(link(FIX.partner_link), {waitUntil: 'load'});
    await waitText(other, 'This sign-in link does not work');
    if (new URL(other.url()).hash) fail('the token stayed in the address: ' + other.url());
    await check(other, 'sign-in-used');
    clean('the end');
    console.log('pages checked: ' + [...checkedPages].sort().join(' '));
    console.log('ok');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error('FAILED: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
