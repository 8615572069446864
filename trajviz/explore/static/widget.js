// The notebook widget (anywidget): the same explorer in a cell. Appended to the shared library
// (which defines TV) to make an ES module.
//
// Page mode: the front end runs the methods itself, as the standalone page does, and reports
// its state and paths to the kernel. Kernel mode: every change is sent to the kernel, which
// re-runs trajviz.run (so notebook-registered surfaces and optimizers work) and sends back
// the paths to draw.

function toResult(r) {
  return { state: r.state, surface: r.surface, methods: r.methods, traces: r.traces.map(TV.app.fromKernel),
           background: { grid: r.grid } };
}

function render({ model, el }) {
  const kernel = model.get("kernel");
  el.classList.add("tv-widget");
  el.style.height = `${model.get("height")}px`;
  let seq = 0, reportTimer = null;
  const backend = kernel ? {
    kernel: true,
    request(partial) {
      seq += 1;
      model.set("request", { seq, partial });
      model.save_changes();
    },
  } : null;
  const first = model.get("result");
  const app = TV.app.create(el, model.get("config"), {
    hash: false,
    initial: model.get("state"),
    kernel: backend,
    result: kernel && first && first.traces ? toResult(first) : null,
    onChange(result) {
      if (kernel) return;
      // report what is drawn (not on every drag event: once things settle)
      clearTimeout(reportTimer);
      reportTimer = setTimeout(() => {
        model.set("state", result.state);
        model.set("result", { paths: TV.engine.paths(result.traces) });
        model.save_changes();
      }, 200);
    },
  });

  el.trajviz = app; // the page's window.trajviz hook (state, setState, paths), on the widget's element

  const onResult = () => {
    const r = model.get("result");
    if (!kernel || !r) return;
    if (r.error) {
      app.showNotice([r.error]);
      if (r.field === "surface") app.formulaError(r.error);
      return;
    }
    if (r.traces) { app.formulaError(""); app.commit(toResult(r)); }
  };
  const onState = () => {
    if (kernel) return;
    const s = model.get("state");
    if (JSON.stringify(s) === JSON.stringify(app.state)) return;
    try { app.setState(s); } catch (e) { app.showNotice([e.message]); }
  };
  model.on("change:result", onResult);
  model.on("change:state", onState);
  return () => {
    clearTimeout(reportTimer);
    model.off("change:result", onResult);
    model.off("change:state", onState);
  };
}

export default { render };
