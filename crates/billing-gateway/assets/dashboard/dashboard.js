// The cost dashboard: reads the organization and period from the form (defaults: the URL's
// `org`, `from` and `to`, else the gateway's demo organization and the last full month), and
// refreshes each panel with one GraphQL request of its own, so one failing panel leaves the
// others standing.

import * as daily from './daily.js';
import * as deployments from './deployments.js';
import * as drilldown from './drilldown.js';
import { longDay } from './format.js';
import { credentials, ELASTIC_KEY, remember, startTally, TALKDESK_KEY } from './graphql.js';
import { Panel } from './panel.js';
import { isDate, lastFullMonth } from './range.js';
import * as summary from './summary.js';
import * as talkdesk from './talkdesk.js';

const form = document.getElementById('controls');
const fields = {
  org: document.getElementById('org'),
  from: document.getElementById('from'),
  to: document.getElementById('to'),
  elastic: document.getElementById('elastic-key'),
  talkdesk: document.getElementById('talkdesk-token'),
};
const status = document.getElementById('status');
const costLine = document.getElementById('refresh-cost');
let lastTally = null;
const panels = {
  summary: new Panel(document.getElementById('summary')),
  daily: new Panel(document.getElementById('daily')),
  deployments: new Panel(document.getElementById('deployments')),
  talkdesk: new Panel(document.getElementById('talkdesk')),
  deployment: new Panel(document.getElementById('deployment-panel')),
};

/** The form's first values: the URL's, else the defaults. */
function initial() {
  const params = new URLSearchParams(window.location.search);
  const fallback = lastFullMonth();
  const organization = document.querySelector('meta[name="billing-graph-organization"]')?.content ?? '';
  let from = params.get('from');
  let to = params.get('to');
  if (!isDate(from) || !isDate(to) || from > to) ({ from, to } = fallback);
  return { org: params.get('org') ?? organization, from, to };
}

/** The form's values, or `null` with the reason shown when they do not make a period. */
function read() {
  const org = fields.org.value.trim();
  const from = fields.from.value;
  const to = fields.to.value;
  const badRange = !isDate(from) || !isDate(to) || from > to;
  fields.from.setAttribute('aria-invalid', String(badRange));
  fields.to.setAttribute('aria-invalid', String(badRange));
  if (badRange) {
    status.textContent = 'Choose a period whose start is on or before its end.';
    return null;
  }
  return { org, range: { from, to } };
}

/** A number of the cost line, as text in an element tests and readers can find. */
function figure(name, value) {
  const strong = document.createElement('strong');
  strong.dataset.field = name;
  strong.textContent = String(value);
  return strong;
}

/** Prints what a refresh cost in upstream calls, once its panels have their answers. */
function showCost(tally) {
  if (tally !== lastTally) return; // A newer refresh is under way.
  costLine.replaceChildren(
    'This refresh made ',
    figure('calls', tally.calls),
    ' upstream calls, with ',
    figure('cache-hits', tally.cacheHits),
    ' answers from the cache; with nothing cached, it was estimated at ',
    figure('cold', tally.cold),
    ' calls.',
  );
  costLine.dataset.answers = String(tally.answers);
}

function refresh() {
  const context = read();
  if (!context) return;
  const tally = startTally();
  lastTally = tally;
  costLine.replaceChildren();
  const { org, range } = context;
  const params = new URLSearchParams({ org, from: range.from, to: range.to });
  window.history.replaceState(null, '', `${window.location.pathname}?${params}`);
  const period = `${longDay(range.from)} – ${longDay(range.to)}`;
  const work = [talkdesk.load(panels.talkdesk, context)];
  if (org) {
    status.textContent = `Organization ${org}, ${period}.`;
    work.push(
      summary.load(panels.summary, context),
      daily.load(panels.daily, context),
      deployments.load(panels.deployments, context, (deployment, trigger) =>
        drilldown.open(panels.deployment, deployment, context, trigger),
      ),
    );
  } else {
    status.textContent = `No organization: enter an Elastic organization id. Talkdesk usage, ${period}.`;
    for (const panel of [panels.summary, panels.daily, panels.deployments]) panel.empty('Enter an Elastic organization id above.');
  }
  return Promise.all(work).then(() => showCost(tally));
}

const start = initial();
fields.org.value = start.org;
fields.from.value = start.from;
fields.to.value = start.to;
const typed = credentials();
fields.elastic.value = typed.elastic;
fields.talkdesk.value = typed.talkdesk;

fields.elastic.addEventListener('change', () => remember(ELASTIC_KEY, fields.elastic.value.trim()));
fields.talkdesk.addEventListener('change', () => remember(TALKDESK_KEY, fields.talkdesk.value.trim()));
document.getElementById('forget').addEventListener('click', () => {
  fields.elastic.value = '';
  fields.talkdesk.value = '';
  remember(ELASTIC_KEY, '');
  remember(TALKDESK_KEY, '');
  refresh();
});
form.addEventListener('submit', (event) => {
  event.preventDefault();
  // A credential typed and submitted with Enter has not fired `change` yet.
  remember(ELASTIC_KEY, fields.elastic.value.trim());
  remember(TALKDESK_KEY, fields.talkdesk.value.trim());
  refresh();
});

refresh();
