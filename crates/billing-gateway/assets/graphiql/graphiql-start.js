// Starts GraphiQL (React, ReactDOM and GraphiQL are the vendored UMD globals loaded before this
// file). It is a file rather than an inline script so the page's Content-Security-Policy can
// forbid inline scripts; the page hands over the endpoint and the opening query as data
// attributes.
'use strict';
(function start() {
  const root = document.getElementById('graphiql');
  const { endpoint, query } = root.dataset;
  // A relative URL on this origin: the page talks to its own gateway and nothing else.
  const fetcher = GraphiQL.createFetcher({ url: new URL(endpoint, window.location.href).href });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: query,
      defaultEditorToolsVisibility: true,
    }),
  );
})();
