// The summary panel: the range's total cost and average hourly rate, each with its change
// against the previous period of equal length, and the hourly rate Elastic reports now.
// One request; two upstream calls when cold (the costs overview of each period).

import { money, percent, rate, longDay } from './format.js';
import { request } from './graphql.js';
import { el, partialNote } from './panel.js';
import { hours, length, previous, timestamps } from './range.js';

const QUERY = `query DashboardSummary($org: ID!, $from: DateTime!, $to: DateTime!, $previousFrom: DateTime!) {
  organization(id: $org) {
    current: costs(from: $from, to: $to) { total hourlyRate }
    previous: costs(from: $previousFrom, to: $from) { total }
  }
}`;

function change(ratio, field) {
  const direction = !Number.isFinite(ratio) || Math.abs(ratio) < 0.0005 ? 'flat' : ratio > 0 ? 'up' : 'down';
  return el('span', { class: `change ${direction}`, 'data-field': field }, percent(ratio));
}

function figure(label, value, field, ...more) {
  return el('div', {}, el('dt', {}, label), el('dd', { class: 'big', 'data-field': field }, value), ...more.map((m) => el('dd', {}, m)));
}

export async function load(panel, { org, range }) {
  const { signal, current } = panel.begin();
  const before = previous(range);
  const { from, to } = timestamps(range);
  const variables = { org, from, to, previousFrom: timestamps(before).from };
  const { data, errors } = await request(QUERY, variables, { signal });
  if (!current()) return;
  const costs = data?.organization?.current;
  if (!costs) {
    panel.error(errors, 'The costs could not be loaded.');
    return;
  }
  const previousTotal = data.organization.previous?.total;
  const ratio = typeof previousTotal === 'number' && previousTotal > 0 ? costs.total / previousTotal - 1 : NaN;
  const days = length(range);
  const since = `${longDay(before.from)} – ${longDay(before.to)}`;
  const versus = (text, field) => [' vs ', el('span', { class: 'previous', 'data-field': field }, text), ` (the previous ${days} days, ${since})`];
  panel.ready(
    el(
      'dl',
      { class: 'figures' },
      figure('Total cost', money(costs.total), 'total', [change(ratio, 'total-change'), ...versus(money(previousTotal), 'previous-total')]),
      figure('Average hourly rate', rate(costs.total / hours(range)), 'average-rate', [
        change(ratio, 'rate-change'),
        ...versus(rate(previousTotal / hours(before)), 'previous-rate'),
      ]),
      figure('Hourly rate now', rate(costs.hourlyRate), 'current-rate', 'of the deployments running now, as Elastic reports it'),
    ),
    errors.length ? partialNote(errors, 'The previous period could not be loaded:') : null,
  );
}
