// The dashboard's one way to the data: POST a document to this gateway's public `/graphql`
// endpoint, as any frontend would. Credentials the reader types are kept in this tab's
// `sessionStorage` (never `localStorage`, never a cookie) and sent only to this origin.

const ENDPOINT = new URL(
  document.querySelector('meta[name="billing-graph-endpoint"]')?.content || '/graphql',
  window.location.href,
);

/** The session storage keys of the credentials. */
export const ELASTIC_KEY = 'billing-graph.elastic-api-key';
export const TALKDESK_KEY = 'billing-graph.talkdesk-token';

function stored(key) {
  try {
    return window.sessionStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

/** The credentials typed in this tab: `{ elastic, talkdesk }`, each '' when none. */
export function credentials() {
  return { elastic: stored(ELASTIC_KEY), talkdesk: stored(TALKDESK_KEY) };
}

/** Keeps a credential for this tab (an empty value forgets it). */
export function remember(key, value) {
  try {
    if (value) window.sessionStorage.setItem(key, value);
    else window.sessionStorage.removeItem(key);
  } catch {
    // Storage off: the credential lasts until the page is left.
  }
}

/** `Authorization` as the gateway reads it: a bare key becomes `ApiKey <key>`. */
function elasticHeader(value) {
  return /^(ApiKey|Bearer|Basic)\s/i.test(value) ? value : `ApiKey ${value}`;
}

function talkdeskHeader(value) {
  return /^Bearer\s/i.test(value) ? value : `Bearer ${value}`;
}

/** What the answers since the last `startTally()` cost, from their `extensions.cost`. */
let tally = null;

/**
 * Starts counting what the following requests cost: `{ answers, calls, cacheHits, cold }`, the
 * upstream calls they made, the answers the cache served, and the calls they were estimated to
 * make with nothing cached. The tally fills as the answers arrive.
 */
export function startTally() {
  tally = { answers: 0, calls: 0, cacheHits: 0, cold: 0 };
  return tally;
}

function count(cost) {
  if (!tally || !cost || typeof cost !== 'object') return;
  const number = (n) => (Number.isFinite(n) ? n : 0);
  tally.answers += 1;
  tally.calls += number(cost.actual?.calls);
  tally.cacheHits += number(cost.actual?.cacheHits);
  tally.cold += number(cost.estimated?.cold?.calls);
}

/** An error of our own making, shaped like the gateway's. */
function failure(code, message) {
  return { data: null, errors: [{ message, extensions: { code } }] };
}

/**
 * Runs one GraphQL document and answers `{ data, errors }`: never throws, so a panel always has
 * something to show. `errors` carry the gateway's `extensions.code`; failures on the way there
 * get codes of their own (`NETWORK_ERROR`, `HTTP_<status>`).
 */
export async function request(query, variables = {}, { signal } = {}) {
  if (ENDPOINT.origin !== window.location.origin) {
    return failure('CROSS_ORIGIN', 'the GraphQL endpoint is not on this origin; no credential was sent');
  }
  const headers = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json;q=0.9',
  };
  const { elastic, talkdesk } = credentials();
  if (elastic) headers.authorization = elasticHeader(elastic);
  if (talkdesk) headers['x-talkdesk-authorization'] = talkdeskHeader(talkdesk);
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: 'POST',
      mode: 'same-origin',
      credentials: 'same-origin',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      headers,
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (e) {
    if (e?.name === 'AbortError') return failure('ABORTED', 'the request was replaced by a newer one');
    return failure('NETWORK_ERROR', 'the gateway could not be reached');
  }
  let body;
  try {
    body = await response.json();
  } catch {
    return failure(`HTTP_${response.status}`, `the gateway answered ${response.status} without a GraphQL body`);
  }
  count(body?.extensions?.cost);
  const errors = Array.isArray(body?.errors) ? body.errors : [];
  if (!response.ok && errors.length === 0) {
    return failure(`HTTP_${response.status}`, `the gateway answered ${response.status}`);
  }
  return { data: body?.data ?? null, errors };
}

/** The `extensions.code` of an error, or `UNKNOWN`. */
export function code(error) {
  return error?.extensions?.code ?? 'UNKNOWN';
}
