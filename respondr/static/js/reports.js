// Reports: the latency report's charts (Chart.js, served from /static/vendor) and the live
// view's refresh. No inline script (the Content-Security-Policy forbids it): the chart data
// comes from a <script type="application/json"> block, which browsers never execute.
(function () {
  "use strict";
  var LIVE_PERIOD_MS = 15000;
  // Okabe–Ito colours (told apart with colour-blindness), each with its own pattern, so a
  // series is recognisable without colour too.
  var COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];
  var PATTERNS = ["solid", "stripes", "dots", "cross", "lines", "zigzag"];
  var INK = "#1f2d3d";

  function pattern(index) {
    var colour = COLOURS[index % COLOURS.length];
    var kind = PATTERNS[index % PATTERNS.length];
    if (kind === "solid") { return colour; }
    var tile = document.createElement("canvas");
    tile.width = tile.height = 10;
    var ctx = tile.getContext("2d");
    ctx.fillStyle = colour;
    ctx.fillRect(0, 0, 10, 10);
    ctx.strokeStyle = ctx.fillStyle = "rgba(255,255,255,0.85)";
    ctx.lineWidth = 2;
    ctx.beginPath();
    if (kind === "stripes") { ctx.moveTo(0, 10); ctx.lineTo(10, 0); ctx.moveTo(-5, 5); ctx.lineTo(5, -5); ctx.moveTo(5, 15); ctx.lineTo(15, 5); }
    if (kind === "cross") { ctx.moveTo(0, 0); ctx.lineTo(10, 10); ctx.moveTo(10, 0); ctx.lineTo(0, 10); }
    if (kind === "lines") { ctx.moveTo(0, 5); ctx.lineTo(10, 5); }
    if (kind === "zigzag") { ctx.moveTo(0, 7); ctx.lineTo(5, 3); ctx.lineTo(10, 7); }
    ctx.stroke();
    if (kind === "dots") { ctx.beginPath(); ctx.arc(5, 5, 2, 0, 2 * Math.PI); ctx.fill(); }
    return ctx.createPattern(tile, "repeat");
  }

  function formatted(value, unit) {
    if (value === null || value === undefined) { return ""; }
    if (unit && unit.indexOf("hours") === 0) { return value.toFixed(1) + " h"; }
    return String(value);
  }

  // Numbers written on the bars themselves (segments wide enough to hold them), and the
  // total at the end of each stacked bar.
  var valueLabels = {
    id: "respondrValueLabels",
    afterDatasetsDraw: function (chart) {
      var spec = chart.options.respondr;
      if (!spec || chart.config.type !== "bar") { return; }
      var ctx = chart.ctx;
      ctx.save();
      ctx.font = "12px system-ui, sans-serif";
      ctx.textBaseline = "middle";
      var totals = [];
      chart.data.datasets.forEach(function (dataset, d) {
        var meta = chart.getDatasetMeta(d);
        if (meta.hidden) { return; }
        meta.data.forEach(function (bar, i) {
          var value = dataset.data[i];
          if (value === null || value === undefined) { return; }
          totals[i] = (totals[i] || 0) + value;
          var text = formatted(value, spec.unit);
          if (spec.stacked) {
            var width = Math.abs(bar.x - bar.base);
            if (width < ctx.measureText(text).width + 8 || !value) { return; }
            ctx.fillStyle = "#fff";
            ctx.strokeStyle = INK;
            ctx.lineWidth = 3;
            ctx.textAlign = "center";
            ctx.strokeText(text, (bar.x + bar.base) / 2, bar.y);
            ctx.fillText(text, (bar.x + bar.base) / 2, bar.y);
          } else {
            ctx.fillStyle = INK;
            ctx.textAlign = "center";
            ctx.fillText(text, bar.x, bar.y - 10);
          }
        });
      });
      if (spec.stacked) {
        var last = chart.getDatasetMeta(chart.data.datasets.length - 1);
        ctx.fillStyle = INK;
        ctx.textAlign = "left";
        totals.forEach(function (total, i) {
          var bar = last.data[i];
          if (!bar || !total) { return; }
          ctx.fillText("= " + formatted(total, spec.unit), chart.scales.x.getPixelForValue(total) + 6, bar.y);
        });
      }
      ctx.restore();
    },
  };

  // Dashed vertical lines where something happened (a policy change in a week).
  var markers = {
    id: "respondrMarkers",
    afterDraw: function (chart) {
      var spec = chart.options.respondr;
      if (!spec || !spec.markers || !spec.markers.length) { return; }
      var ctx = chart.ctx;
      var area = chart.chartArea;
      ctx.save();
      ctx.strokeStyle = INK;
      ctx.fillStyle = INK;
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1.5;
      ctx.font = "12px system-ui, sans-serif";
      spec.markers.forEach(function (marker) {
        var x = chart.scales.x.getPixelForValue(marker.index);
        ctx.beginPath();
        ctx.moveTo(x, area.top);
        ctx.lineTo(x, area.bottom);
        ctx.stroke();
        var text = "▼ " + marker.label;
        var fits = x + 4 + ctx.measureText(text).width <= chart.width;
        ctx.textAlign = fits ? "left" : "right";
        ctx.fillText(text, fits ? x + 4 : x - 4, area.top + 10);
      });
      ctx.restore();
    },
  };

  function chartConfig(spec) {
    var isTrend = spec.type === "line";
    var datasets = spec.datasets.map(function (dataset, index) {
      var copy = { label: dataset.label, data: dataset.data };
      if (isTrend) {
        copy.borderColor = COLOURS[index];
        copy.backgroundColor = COLOURS[index];
        copy.borderDash = index ? [8, 4] : [];
        copy.pointStyle = ["circle", "triangle", "rect"][index % 3];
        copy.pointRadius = spec.labels.length > 60 ? 0 : 5;
        copy.spanGaps = true;
      } else {
        copy.backgroundColor = spec.stacked ? pattern(index) : COLOURS[0];
        copy.borderColor = INK;
        copy.borderWidth = 1;
      }
      return copy;
    });
    var valueAxis = { beginAtZero: true, stacked: !!spec.stacked, title: { display: true, text: spec.unit } };
    var options = {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      respondr: spec,
      plugins: { legend: { display: datasets.length > 1, labels: { usePointStyle: isTrend } } },
      layout: { padding: { right: spec.stacked ? 60 : 10, top: 16 } },
    };
    if (spec.stacked) {
      options.indexAxis = "y";
      options.scales = { x: valueAxis, y: { stacked: true } };
    } else {
      options.scales = { y: valueAxis };
    }
    return { type: spec.type, data: { labels: spec.labels, datasets: datasets }, options: options };
  }

  var source = document.getElementById("report-charts");
  if (source && window.Chart) {
    var specs = JSON.parse(source.textContent);
    window.Chart.register(valueLabels, markers);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = specs[canvas.dataset.chart];
      if (!spec) { return; }
      if (spec.stacked) {
        // Room for every group's bar.
        canvas.parentNode.style.height = Math.max(180, 70 + 44 * spec.labels.length) + "px";
      }
      new window.Chart(canvas, chartConfig(spec));
      canvas.dataset.rendered = "true";
    });
  }

  // Live view: fetch the panel again every few seconds (as the inbox's live.js polls),
  // rendered and escaped by the server.
  var panel = document.getElementById("live-panel");
  if (panel) {
    window.setInterval(function () {
      if (document.hidden) { return; }
      fetch(panel.dataset.panelUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          panel.innerHTML = html;
          panel.dataset.refreshed = String(Date.now());
        })
        .catch(function () { /* offline for a moment: try again next time */ });
    }, Number(panel.dataset.period || LIVE_PERIOD_MS));
  }
})();
