// The Talkdesk panel: usage by month and product over the months the range touches, each
// amount in its row's currency. One request; cold, it costs one upstream call per 250 rows
// (and, on the gateway's own OAuth client, a token when it has none).

import { code, request } from './graphql.js';
import { money, month } from './format.js';
import { el, num, table } from './panel.js';
import { months as monthsOf } from './range.js';

/** The most rows one refresh reads (the connection's limit). */
const ROWS = 5000;

const QUERY = `query DashboardTalkdesk($months: [String!]!, $first: Int!) {
  usageAggregates(first: $first, filter: { months: $months }) {
    totalCount
    pageInfo { hasNextPage }
    nodes { month type description totalAmount currency }
  }
}`;

export async function load(panel, { range }) {
  const { signal, current } = panel.begin();
  const months = monthsOf(range);
  const { data, errors } = await request(QUERY, { months, first: ROWS }, { signal });
  if (!current()) return;
  const usage = data?.usageAggregates;
  if (!usage) {
    if (errors.length && errors.every((e) => code(e) === 'UNAUTHENTICATED')) {
      panel.empty('No Talkdesk token: the gateway has none, and none was entered under Credentials.');
    } else {
      panel.error(errors, 'The Talkdesk usage could not be loaded.');
    }
    return;
  }
  if (usage.nodes.length === 0) {
    panel.empty('No Talkdesk usage in these months.');
    return;
  }
  // product -> currency -> month -> amount
  const products = new Map();
  const totals = new Map();
  for (const row of usage.nodes) {
    const product = row.description || row.type || 'Other';
    const currency = row.currency || '';
    const key = `${product}\u0000${currency}`;
    if (!products.has(key)) products.set(key, { product, currency, amounts: new Map() });
    const amounts = products.get(key).amounts;
    amounts.set(row.month, (amounts.get(row.month) ?? 0) + (row.totalAmount ?? 0));
    if (!totals.has(currency)) totals.set(currency, new Map());
    totals.get(currency).set(row.month, (totals.get(currency).get(row.month) ?? 0) + (row.totalAmount ?? 0));
  }
  const rows = [...products.values()]
    .sort((a, b) => a.product.localeCompare(b.product) || a.currency.localeCompare(b.currency))
    .map((p) => [p.product, ...months.map((m) => num(p.amounts.has(m) ? money(p.amounts.get(m), p.currency) : '—'))]);
  const footers = [...totals.entries()].map(([currency, amounts]) =>
    el('tr', { class: 'total' }, el('th', { scope: 'row' }, `Total${totals.size > 1 ? ` (${currency})` : ''}`), months.map((m) => el('td', { class: 'num' }, money(amounts.get(m) ?? 0, currency)))),
  );
  const shown = usage.nodes.length;
  panel.ready(
    usage.pageInfo.hasNextPage
      ? el('p', { class: 'warning', role: 'note' }, `Showing the first ${shown} of ${usage.totalCount ?? 'more'} rows.`)
      : null,
    table(`Every account, by product and month (${shown} rows)`, ['Product', ...months.map((m) => num(month(m)))], [...rows, ...footers]),
  );
}
