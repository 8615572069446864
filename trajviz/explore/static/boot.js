// The standalone page: read the payload, start the explorer on the URL hash, expose window.trajviz.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("trajviz-config").textContent);
  const root = document.createElement("div");
  root.style.height = "100%";
  document.body.append(root);
  const app = TV.app.create(root, config, { hash: true });
  const hook = {
    get state() { return app.state; },
    setState: (partial) => app.setState(partial),
    paths: () => app.paths(),
  };
  Object.defineProperty(window, "trajviz", { value: Object.freeze(hook), enumerable: true });
  // the page's internals, for the tests and the benchmark (not a stable interface)
  Object.defineProperty(window, "trajvizLib", { value: Object.freeze({ ...TV, app }), enumerable: false });
})();
