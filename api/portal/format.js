// Money and dates in the viewer's own format (locale from the browser).

const locale = navigator.languages && navigator.languages.length ? navigator.languages[0] : undefined;

// Minor-unit digits of a currency (2 for EUR, 0 for JPY, 3 for BHD), from the browser's ISO 4217 data.
export function exponent(currency) {
  try {
    return new Intl.NumberFormat('en', {style: 'currency', currency}).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

// {amount: minor units, currency} (or amount, currency) in the currency's own format: 123456 EUR → €1,234.56.
export function money(amount, currency) {
  if (amount && typeof amount === 'object') ({amount, currency} = amount);
  if (amount === null || amount === undefined) return '—';
  const e = exponent(currency);
  try {
    return new Intl.NumberFormat(locale, {style: 'currency', currency, minimumFractionDigits: e, maximumFractionDigits: e})
      .format(amount / 10 ** e);
  } catch {
    return (amount / 10 ** e).toFixed(e) + ' ' + currency;
  }
}

// "1234.5" typed into a form → 123450 minor units (no float rounding surprises); NaN if not a number.
export function toMinor(text, currency) {
  const e = exponent(currency);
  const m = String(text).trim().replace(',', '.').match(/^(\d+)(?:\.(\d*))?$/);
  if (!m || (m[2] || '').length > e) return NaN;
  return Number(m[1]) * 10 ** e + Number((m[2] || '').padEnd(e, '0') || 0);
}

// A date (YYYY-MM-DD, a calendar day: shown as that day everywhere).
export function day(d) {
  if (!d) return '—';
  const t = new Date(d.length === 10 ? d + 'T00:00:00Z' : d);
  return new Intl.DateTimeFormat(locale, {dateStyle: 'medium', timeZone: d.length === 10 ? 'UTC' : undefined}).format(t);
}

// A moment (RFC 3339) in the viewer's time zone.
export function when(ts) {
  if (!ts) return '—';
  return new Intl.DateTimeFormat(locale, {dateStyle: 'medium', timeStyle: 'short'}).format(new Date(ts));
}

// Basis points as a percentage: 1250 → 12.5 %.
export function percent(bps) {
  return new Intl.NumberFormat(locale, {style: 'percent', maximumFractionDigits: 2}).format(bps / 10000);
}

export const plural = (n, one, many) => n + ' ' + (n === 1 ? one : many);

// How an introduction is named: the prospect, and their company if given.
export const prospectName = (r) => r.prospect.company ? r.prospect.name + ' (' + r.prospect.company + ')' : r.prospect.name;
