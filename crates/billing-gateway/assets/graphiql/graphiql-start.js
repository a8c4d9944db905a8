// Starts GraphiQL (React, ReactDOM and GraphiQL are the vendored UMD globals loaded before this
// file). It is a file rather than an inline script so the page's Content-Security-Policy can
// forbid inline scripts; the page hands over the endpoint and the opening query as data
// attributes.
'use strict';
(function start() {
  const root = document.getElementById('graphiql');
  const { endpoint, query, styleNonce } = root.dataset;
  // GraphiQL's dialogs add a <style> element (radix's scroll lock) and give it this nonce, which
  // the page's policy allows for this response alone.
  window.__webpack_nonce__ = styleNonce;

  // The standard introspection query nests its type references nine `ofType`s deep, 15
  // selections in all, past the gateway's depth limit (--max-depth, 12 by default), which
  // would answer QUERY_TOO_DEEP and leave the Docs explorer empty. This schema wraps a type at
  // most three times (`[UsageAggregateEdge!]!`), so GraphiQL's introspection asks for six.
  const TYPE_REF =
    'fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ' +
    'ofType { kind name ofType { kind name ofType { kind name } } } } } } }';
  function shallowTypeRefs(text) {
    const start = text.indexOf('fragment TypeRef on __Type');
    if (start < 0) return text;
    let depth = 0;
    for (let i = text.indexOf('{', start); i >= 0 && i < text.length; i += 1) {
      if (text[i] === '{') depth += 1;
      else if (text[i] === '}' && (depth -= 1) === 0) return text.slice(0, start) + TYPE_REF + text.slice(i + 1);
    }
    return text;
  }

  // A URL on this origin: the page talks to its own gateway and nothing else.
  const fetch = GraphiQL.createFetcher({ url: new URL(endpoint, window.location.href).href });
  const fetcher = (params, options) =>
    fetch(params.operationName === 'IntrospectionQuery' ? { ...params, query: shallowTypeRefs(params.query) } : params, options);

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: query,
      defaultEditorToolsVisibility: true,
    }),
  );
})();
