// The daily panel: the organization's cost per day, stacked by dimension. Elastic's
// organization chart splits days by deployment, not dimension, so this sums each deployment's
// daily chart (which splits by dimension). One request; cold, it costs the `/deployments` call
// (shared with the deployments panel) and one chart call per deployment.

import { dailyBars, dimension, DIMENSIONS, legend } from './charts.js';
import { day, money } from './format.js';
import { request } from './graphql.js';
import { el, num, partialNote, table } from './panel.js';
import { days as daysOf, timestamps } from './range.js';

const QUERY = `query DashboardDaily($org: ID!, $from: DateTime!, $to: DateTime!) {
  organization(id: $org) {
    deployments(from: $from, to: $to) {
      id
      charts(bucketing: DAILY) { points { timestamp values { id value } } }
    }
  }
}`;

export async function load(panel, { org, range }) {
  const { signal, current } = panel.begin();
  const { data, errors } = await request(QUERY, { org, ...timestamps(range) }, { signal });
  if (!current()) return;
  const deployments = data?.organization?.deployments;
  if (!deployments) {
    panel.error(errors, 'The daily costs could not be loaded.');
    return;
  }
  if (deployments.length === 0) {
    panel.empty('No deployment had costs in this period.');
    return;
  }
  const days = daysOf(range);
  const index = new Map(days.map((d, i) => [d, i]));
  const sums = new Map();
  for (const deployment of deployments) {
    for (const point of deployment.charts?.points ?? []) {
      const i = index.get(point.timestamp.slice(0, 10));
      if (i === undefined) continue;
      for (const value of point.values) {
        const id = dimension(value.id).id;
        if (!sums.has(id)) sums.set(id, new Array(days.length).fill(0));
        sums.get(id)[i] += value.value;
      }
    }
  }
  const known = DIMENSIONS.filter((d) => sums.has(d.id));
  const shown = [...known, ...[...sums.keys()].filter((id) => !known.some((d) => d.id === id)).map(dimension)];
  const series = shown.map((d) => ({ label: d.label, color: d.color, values: sums.get(d.id) }));
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
  const failed = deployments.filter((d) => d.charts === null).length;

  const chart = el('div', {
    class: 'chart',
    role: 'img',
    'aria-label': `Stacked bar chart of the daily cost in ECU by dimension, ${days.length} days; the table below holds the numbers.`,
  });
  const rows = days.map((d, i) => [day(d), ...series.map((s) => num(money(s.values[i]))), num(money(totals[i]))]);
  const foot = ['Total', ...series.map((s) => num(money(s.values.reduce((a, b) => a + b, 0)))), num(money(totals.reduce((a, b) => a + b, 0)))];
  panel.ready(
    failed ? partialNote(errors, `The daily chart of ${failed} of ${deployments.length} deployments could not be loaded, so these days are short:`) : null,
    legend(shown),
    chart,
    el(
      'details',
      { class: 'data' },
      el('summary', {}, 'Daily costs as a table'),
      table(`Daily cost by dimension, in ECU, over ${deployments.length} deployments`, ['Day', ...series.map((s) => num(s.label)), num('Total')], rows, foot),
    ),
  );
  try {
    dailyBars(chart, days, series);
  } catch (e) {
    chart.replaceChildren(el('p', { class: 'message' }, `The chart could not be drawn (${e.message}); the table holds the numbers.`));
  }
}
