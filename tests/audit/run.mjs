// Runs every graphql-http server audit against a GraphQL endpoint and fails unless all pass.
//
//   node run.mjs http://127.0.0.1:8080/graphql
//
// Prints one line per audit (status, id, name) and, for any audit that is not `ok`, its reason
// and the response it got. Exits 1 when any result is not `ok` (warnings and notices included),
// 2 on a usage error or when an audit throws.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node run.mjs <url of the GraphQL endpoint>');
  process.exit(2);
}

const audits = serverAudits({ url });
let failed = 0;
for (const audit of audits) {
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    console.log(`THROW ${audit.id} ${audit.name}\n      ${err?.stack ?? err}`);
    failed += 1;
    continue;
  }
  console.log(`${result.status.toUpperCase().padEnd(6)}${result.id} ${result.name}`);
  if (result.status !== 'ok') {
    failed += 1;
    console.log(`      reason: ${result.reason}`);
    const res = result.response;
    if (res) {
      let body = '';
      try {
        body = await res.text();
      } catch {
        body = '(body already read)';
      }
      console.log(`      response: ${res.status} ${res.headers.get('content-type') ?? '(no content-type)'}`);
      console.log(`      body: ${body.slice(0, 500)}`);
    }
  }
}

const passed = audits.length - failed;
console.log(`\n${passed}/${audits.length} audits ok`);
process.exit(failed === 0 ? 0 : 1);
