"""A plotly figure as a light widget for the served pages.

In JupyterLab a figure is shown by the front end's plotly renderer (an ``Output`` holding the
plotly MIME bundle). A served page has no such renderer, and plotly's own ``FigureWidget``
sends its 5 MB of JavaScript to every session. :class:`PlotlyChart` sends only the figure's
JSON; its few lines of JavaScript draw it with plotly.js, which the browser loads once from
the serving machine (``mastery serve`` serves plotly's own copy at
:data:`mastery_analysis.serve.PLOTLY_PATH`) and caches.

:func:`figure_widget` picks the one that fits where the page runs: ``$MASTERY_PLOTLY_URL``
(set by ``mastery serve``) means a served page.
"""

from __future__ import annotations

import json
import os

import anywidget
import ipywidgets as W
import traitlets

__all__ = ["PlotlyChart", "figure_widget"]

_ESM = r"""
function loadPlotly(src) {
  if (window.Plotly) { return Promise.resolve(window.Plotly); }
  if (!window.__masteryPlotly) {
    window.__masteryPlotly = new Promise((resolve, reject) => {
      // the page runs require.js: plotly.js would register as an AMD module, not window.Plotly
      const define = window.define;
      window.define = undefined;
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => { window.define = define; resolve(window.Plotly); };
      script.onerror = (e) => { window.define = define; window.__masteryPlotly = null; reject(e); };
      document.head.appendChild(script);
    });
  }
  return window.__masteryPlotly;
}

export default {
  async render({ model, el }) {
    el.classList.add("mastery-chart");
    el.style.width = "100%";
    el.style.minWidth = "0";
    el.style.overflow = "hidden";
    const Plotly = await loadPlotly(model.get("src"));
    // Drawn at the width the chart has on the screen, and only once it is shown: a chart in
    // a hidden tab would otherwise take plotly's default width and push the page sideways.
    let drawnAt = 0;
    const draw = () => {
      const width = el.clientWidth;
      if (width <= 0) { return; }
      drawnAt = width;
      const fig = model.get("figure") || {};
      const layout = Object.assign({}, fig.layout || {}, { autosize: false, width: width });
      Plotly.react(el, fig.data || [], layout, { displayModeBar: false });
    };
    draw();
    model.on("change:figure", draw);
    const resize = new ResizeObserver(() => {
      if (el.clientWidth > 0 && el.clientWidth !== drawnAt) { draw(); }
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      try { Plotly.purge(el); } catch (e) { /* already gone */ }
    };
  },
};
"""


class PlotlyChart(anywidget.AnyWidget):
    """One plotly figure, drawn in the browser with plotly.js from ``src``.

    Attributes
    ----------
    figure : dict
        The figure as plotly JSON (``data`` and ``layout``).
    src : str
        Where the browser loads plotly.js from (the serving machine).
    text : str
        What the chart shows, in words (for screen readers and tests).
    """

    _esm = _ESM
    figure = traitlets.Dict().tag(sync=True)
    src = traitlets.Unicode().tag(sync=True)
    text = traitlets.Unicode().tag(sync=True)


def figure_widget(fig, text: str, *, css: str | None = None) -> W.DOMWidget:
    """The widget showing plotly figure ``fig``: a :class:`PlotlyChart` on a served page, an
    ``Output`` with plotly's MIME bundle in JupyterLab.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure or dict
        The figure, or its plotly JSON.
    text : str
        What the chart shows, in words.
    css : str, optional
        A CSS class for the widget.
    """
    data = fig if isinstance(fig, dict) else json.loads(fig.to_json())
    src = os.environ.get("MASTERY_PLOTLY_URL")
    if src:
        widget = PlotlyChart(figure=data, src=src, text=text, layout=W.Layout(width="100%"))
    else:
        widget = W.Output(layout=W.Layout(width="100%"))
        widget.outputs = ({"output_type": "display_data", "metadata": {},
                           "data": {"application/vnd.plotly.v1+json": {**data, "config": {"displayModeBar": False}},
                                    "text/plain": text}},)
    if css:
        widget.add_class(css)
    return widget
