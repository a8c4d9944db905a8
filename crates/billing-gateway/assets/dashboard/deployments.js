// The deployments panel: the most expensive deployments of the range, each with a sparkline of
// its daily cost; choosing one (click, or Enter/Space on its name) opens its drill-down. One
// request; cold, it costs the `/deployments` call (shared with the daily panel) and one
// organization chart call, which holds every deployment's daily cost.

import { sparkline } from './charts.js';
import { longDay, money, percent, rate } from './format.js';
import { request } from './graphql.js';
import { el, num, partialNote, table } from './panel.js';
import { days as daysOf, timestamps } from './range.js';

/** How many deployments the panel lists. */
export const TOP = 10;

const QUERY = `query DashboardDeployments($org: ID!, $from: DateTime!, $to: DateTime!) {
  organization(id: $org) {
    deployments(from: $from, to: $to) { id name totalCost hourlyRate }
    charts(from: $from, to: $to, bucketing: DAILY) { points { timestamp values { id value } } }
  }
}`;

/** `onOpen(deployment, trigger)` is called when a deployment is chosen. */
export async function load(panel, { org, range }, onOpen) {
  const { signal, current } = panel.begin();
  const { data, errors } = await request(QUERY, { org, ...timestamps(range) }, { signal });
  if (!current()) return;
  const deployments = data?.organization?.deployments;
  if (!deployments) {
    panel.error(errors, 'The deployments could not be loaded.');
    return;
  }
  if (deployments.length === 0) {
    panel.empty('No deployment had costs in this period.');
    return;
  }
  const days = daysOf(range);
  const index = new Map(days.map((d, i) => [d, i]));
  const daily = new Map();
  for (const point of data.organization.charts?.points ?? []) {
    const i = index.get(point.timestamp.slice(0, 10));
    if (i === undefined) continue;
    for (const value of point.values) {
      if (!daily.has(value.id)) daily.set(value.id, new Array(days.length).fill(0));
      daily.get(value.id)[i] += value.value;
    }
  }
  const total = deployments.reduce((sum, d) => sum + d.totalCost, 0);
  const top = [...deployments].sort((a, b) => b.totalCost - a.totalCost || a.name.localeCompare(b.name)).slice(0, TOP);
  const rows = top.map((deployment) => {
    const open = el('button', { type: 'button', class: 'link', 'aria-haspopup': 'dialog' }, deployment.name || deployment.id);
    open.addEventListener('click', (event) => {
      event.stopPropagation();
      onOpen(deployment, open);
    });
    const values = daily.get(deployment.id);
    const row = el(
      'tr',
      { class: 'clickable', 'data-deployment': deployment.id },
      el('th', { scope: 'row' }, open),
      el('td', { class: 'num', 'data-field': 'cost' }, money(deployment.totalCost)),
      el('td', { class: 'num' }, percent(total > 0 ? deployment.totalCost / total : NaN).replace('+', '')),
      el('td', { class: 'num' }, rate(deployment.hourlyRate)),
      el('td', {}, values ? sparkline(values, `Daily cost of ${deployment.name}, ${days.length} days`) : '—'),
    );
    // The whole row is a target for a pointer; the button is the keyboard's.
    row.addEventListener('click', () => onOpen(deployment, open));
    return row;
  });
  panel.ready(
    data.organization.charts ? null : partialNote(errors, 'The daily sparklines could not be loaded:'),
    table(
      `The ${top.length} most expensive of ${deployments.length} deployments, ${longDay(range.from)} – ${longDay(range.to)}. Choose one for its daily chart, dimensions and line items.`,
      ['Deployment', num('Cost'), num('Share'), num('Hourly rate now'), 'Daily cost'],
      rows,
    ),
  );
}
