// Date ranges as the dashboard reads them: whole UTC days, `from` and `to` inclusive, sent to
// the API as `[from, to + 1 day)` timestamps.

const DAY_MS = 86_400_000;

/** `Date` at UTC midnight of an ISO date (`2026-11-03`). */
function parse(isoDate) {
  return new Date(`${isoDate}T00:00:00Z`);
}

/** The ISO date (`2026-11-03`) of a `Date`, in UTC. */
export function iso(date) {
  return date.toISOString().slice(0, 10);
}

/** Whether `text` is an ISO date that exists. */
export function isDate(text) {
  return /^\d{4}-\d{2}-\d{2}$/.test(text ?? '') && iso(parse(text)) === text;
}

/** The last full calendar month before `now`, in UTC. */
export function lastFullMonth(now = new Date()) {
  const firstOfThisMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const to = new Date(firstOfThisMonth.getTime() - DAY_MS);
  const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), 1));
  return { from: iso(from), to: iso(to) };
}

/** How many days the range covers. */
export function length({ from, to }) {
  return Math.round((parse(to) - parse(from)) / DAY_MS) + 1;
}

/** The range of equal length that ends the day before `from`. */
export function previous(range) {
  const days = length(range);
  const to = new Date(parse(range.from).getTime() - DAY_MS);
  const from = new Date(parse(range.from).getTime() - days * DAY_MS);
  return { from: iso(from), to: iso(to) };
}

/** The API's `from` and `to` (exclusive) timestamps. */
export function timestamps({ from, to }) {
  return { from: `${from}T00:00:00Z`, to: `${iso(new Date(parse(to).getTime() + DAY_MS))}T00:00:00Z` };
}

/** Every ISO date of the range, in order. */
export function days(range) {
  const out = [];
  for (let t = parse(range.from).getTime(); t <= parse(range.to).getTime(); t += DAY_MS) out.push(iso(new Date(t)));
  return out;
}

/** Every month (`YYYY-MM`) the range touches, in order. */
export function months({ from, to }) {
  const out = [];
  let [year, month] = from.slice(0, 7).split('-').map(Number);
  const last = to.slice(0, 7);
  for (;;) {
    const text = `${year}-${String(month).padStart(2, '0')}`;
    out.push(text);
    if (text >= last) return out;
    month += 1;
    if (month > 12) {
      month = 1;
      year += 1;
    }
  }
}

/** The hours the range covers. */
export function hours(range) {
  return length(range) * 24;
}
