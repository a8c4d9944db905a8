// The drill-down of one deployment, in a modal dialog: its daily cost (Elastic v1 chart), its
// dimensions, and its line items (Elastic v2). One request; cold, only the v2 call is new (the
// `/deployments` answer and the deployment's chart are in the gateway's cache from the panels).

import { dailyBars, dimension } from './charts.js';
import { longDay, money, number, rate } from './format.js';
import { request } from './graphql.js';
import { el, num, partialNote, table } from './panel.js';
import { days as daysOf, timestamps } from './range.js';

const QUERY = `query DashboardDeployment($org: ID!, $id: ID!, $from: DateTime!, $to: DateTime!) {
  organization(id: $org) {
    deployment(id: $id, from: $from, to: $to) {
      id
      name
      totalCost
      hourlyRate
      dimensions { type rawType cost }
      charts(bucketing: DAILY) { points { timestamp total } }
      lineItems { name type quantity unit totalEcu }
    }
  }
}`;

const dialog = document.getElementById('deployment');
const title = document.getElementById('deployment-title');
let returnTo = null;

document.getElementById('deployment-close').addEventListener('click', () => dialog.close());
dialog.addEventListener('close', () => {
  // Back to what opened it, so keyboard users keep their place.
  returnTo?.focus();
  returnTo = null;
});

/** Opens the dialog on `deployment` (`{ id, name }`) and loads it into `panel`. */
export async function open(panel, deployment, { org, range }, trigger) {
  returnTo = trigger ?? document.activeElement;
  title.textContent = deployment.name || deployment.id;
  if (!dialog.open) dialog.showModal();
  const { signal, current } = panel.begin();
  const { data, errors } = await request(QUERY, { org, id: deployment.id, ...timestamps(range) }, { signal });
  if (!current()) return;
  const found = data?.organization?.deployment;
  if (!found) {
    if (errors.length) panel.error(errors, 'This deployment could not be loaded.');
    else panel.empty('This deployment has no costs in this period.');
    return;
  }
  const days = daysOf(range);
  const index = new Map(days.map((d, i) => [d, i]));
  const values = new Array(days.length).fill(0);
  for (const point of found.charts?.points ?? []) {
    const i = index.get(point.timestamp.slice(0, 10));
    if (i !== undefined) values[i] += point.total;
  }
  const chart = el('div', {
    class: 'chart',
    role: 'img',
    'aria-label': `Bar chart of the daily cost of ${found.name} in ECU, ${days.length} days.`,
  });
  const dimensions = table(
    'Cost by dimension, in ECU',
    ['Dimension', num('Cost')],
    found.dimensions.map((d) => [dimension(d.rawType || d.type).label, num(money(d.cost))]),
  );
  const lineItems = found.lineItems
    ? table(
        'Line items (Elastic billing v2), in ECU',
        ['Line item', 'Type', num('Quantity'), num('Cost')],
        found.lineItems.map((item) => [item.name, item.type, num(`${number(item.quantity, 2)} ${item.unit}`), num(money(item.totalEcu))]),
      )
    : partialNote(errors, 'The line items (Elastic billing v2) could not be loaded:');
  panel.ready(
    el(
      'dl',
      { class: 'figures' },
      el('div', {}, el('dt', {}, 'Total cost'), el('dd', { class: 'big', 'data-field': 'deployment-total' }, money(found.totalCost))),
      el('div', {}, el('dt', {}, 'Hourly rate now'), el('dd', { class: 'big' }, rate(found.hourlyRate))),
      el('div', {}, el('dt', {}, 'Period'), el('dd', {}, `${longDay(range.from)} – ${longDay(range.to)}`)),
    ),
    el('h3', {}, 'Daily cost'),
    found.charts ? chart : partialNote(errors, 'The daily chart could not be loaded:'),
    el('div', { class: 'dimensions' }, el('h3', {}, 'Dimensions'), dimensions),
    el('div', { class: 'line-items' }, el('h3', {}, 'Line items'), lineItems),
  );
  if (found.charts) {
    try {
      dailyBars(chart, days, [{ label: 'Cost', color: '#1f5fa8', values }], { height: 200 });
    } catch (e) {
      chart.replaceChildren(el('p', { class: 'message' }, `The chart could not be drawn (${e.message}).`));
    }
  }
}
