// Number, money and date formatting, in the reader's locale. Money always names its currency:
// ECU for Elastic (Elastic Consumption Units), each row's own currency for Talkdesk.

const moneyFormats = new Map();

/** `value` in `currency` (an ISO 4217-shaped code such as ECU or USD), two decimals. */
export function money(value, currency = 'ECU') {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  const code = typeof currency === 'string' && /^[A-Za-z]{3}$/.test(currency) ? currency.toUpperCase() : null;
  if (!code) return `${number(value, 2)} ${currency ?? ''}`.trim();
  let format = moneyFormats.get(code);
  if (!format) {
    format = new Intl.NumberFormat(undefined, {
      style: 'currency',
      currency: code,
      currencyDisplay: 'code',
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    moneyFormats.set(code, format);
  }
  return format.format(value);
}

/** An hourly rate: money per hour. */
export function rate(value, currency = 'ECU') {
  return `${money(value, currency)}/h`;
}

/** A plain number with `digits` decimals. */
export function number(value, digits = 0) {
  return new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

const percentFormat = new Intl.NumberFormat(undefined, {
  style: 'percent',
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
  signDisplay: 'exceptZero',
});

/** A ratio as a signed percentage: 0.123 is "+12.3%". */
export function percent(ratio) {
  return Number.isFinite(ratio) ? percentFormat.format(ratio) : '—';
}

const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const longDayFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
const monthFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', timeZone: 'UTC' });

/** `2026-11-03` as "Nov 3". */
export function day(isoDate) {
  return dayFormat.format(new Date(`${isoDate.slice(0, 10)}T00:00:00Z`));
}

/** `2026-11-03` as "Nov 3, 2026". */
export function longDay(isoDate) {
  return longDayFormat.format(new Date(`${isoDate.slice(0, 10)}T00:00:00Z`));
}

/** `2026-11` as "Nov 2026". */
export function month(yearMonth) {
  return monthFormat.format(new Date(`${yearMonth}-01T00:00:00Z`));
}
