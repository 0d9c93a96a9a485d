// GraphiQL for developers on GET /graphql (development only), started from /static so
// the page needs no inline script. Queries are POSTed to the endpoint with the headers
// typed in GraphiQL's Headers tab, where the API token goes:
// {"Authorization": "Bearer <token>"}. The token is not stored in the browser.
(function () {
  "use strict";
  var container = document.getElementById("graphiql");
  var endpoint = container.dataset.endpoint;
  var defaultHeaders = JSON.stringify(JSON.parse(container.dataset.defaultHeaders), null, 2);

  function authorization(headersText) {
    try {
      var headers = JSON.parse(headersText || "{}");
      return String((headers && (headers.Authorization || headers.authorization)) || "");
    } catch (error) {
      return ""; // half-typed JSON
    }
  }

  function createFetcher() {
    return function fetcher(params, options) {
      var headers = Object.assign(
        { "Content-Type": "application/json", Accept: "application/json" },
        options && options.headers
      );
      return fetch(endpoint, {
        method: "POST",
        headers: headers,
        body: JSON.stringify(params),
        credentials: "omit", // the API takes a bearer token, never the console's cookie
      }).then(function (response) {
        return response.json();
      });
    };
  }

  function KeyPulseGraphiQL() {
    var state = React.useState(defaultHeaders);
    // A new fetcher when the token changes makes GraphiQL load the schema again, with it.
    var fetcher = React.useMemo(createFetcher, [authorization(state[0])]);
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: container.dataset.defaultQuery,
      defaultHeaders: defaultHeaders,
      onEditHeaders: state[1],
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
    });
  }

  ReactDOM.createRoot(container).render(React.createElement(KeyPulseGraphiQL));
})();
