/* Level-of-concern / pathway-stage chart for a case page.
 *
 * Progressive enhancement only: the page also renders the same data as a
 * table, which is the accessible fallback. Needs the vendored Chart.js UMD
 * build (static/chartjs/chart.umd.min.js, global `Chart`) loaded first.
 * Data comes from a non-executed JSON island (CSP is script-src 'self'):
 *
 *   <canvas id="concern-chart" data-level-title="Level of concern"
 *           data-stage-title="Pathway stage"></canvas>
 *   <script type="application/json" id="concern-chart-data">
 *     {"points": [{"at": "...", "label": "...", "level": "high", "stage": "preparation"}],
 *      "levels": ["low", ...] or [["low", "Low"], ...],
 *      "stages": [["none", "Not on the pathway"], ...]}
 *   </script>
 */
(function () {
  "use strict";

  // USWDS palette, both >= 7:1 on white (WCAG 1.4.11 needs 3:1 for graphics).
  var LEVEL_COLOR = "#1a4480"; // blue-60v
  var STAGE_COLOR = "#8b0a03"; // red-70v
  var TEXT_COLOR = "#1b1b1b"; // base-darkest
  var GRID_COLOR = "#dfe1e2"; // base-lighter

  // "low" -> ["low", "Low"]; ["low", "Low"] stays as is.
  function pairs(list) {
    return (list || []).map(function (x) {
      if (Array.isArray(x)) return [String(x[0]), String(x[1])];
      var s = String(x).replace(/_/g, " ");
      return [String(x), s.charAt(0).toUpperCase() + s.slice(1)];
    });
  }

  function index(pairList, key) {
    for (var i = 0; i < pairList.length; i++) if (pairList[i][0] === key) return i;
    return null; // unknown value -> gap in the line
  }

  function axis(position, title, names, drawGrid) {
    return {
      type: "linear", position: position, min: 0, max: Math.max(names.length - 1, 1),
      title: { display: true, text: title, color: TEXT_COLOR },
      grid: { drawOnChartArea: drawGrid, color: GRID_COLOR },
      ticks: {
        stepSize: 1, autoSkip: false, color: TEXT_COLOR,
        callback: function (v) { return names[v] !== undefined ? names[v][1] : ""; },
      },
    };
  }

  // Both lines share the plot area, so they often coincide: the level line is
  // thick and solid underneath, the stage line thin and dashed on top.
  function dataset(label, data, color, pointStyle, axisId, thick) {
    return {
      label: label, data: data, yAxisID: axisId, stepped: true, spanGaps: false,
      clip: false, order: thick ? 2 : 1, borderColor: color, backgroundColor: color,
      borderWidth: thick ? 5 : 2, borderDash: thick ? [] : [6, 4],
      pointStyle: pointStyle, pointRadius: thick ? 8 : 6, pointHoverRadius: thick ? 10 : 8,
      pointBorderColor: "#ffffff", pointBorderWidth: 1.5, // keeps overlapping markers apart
    };
  }

  function init() {
    var canvas = document.getElementById("concern-chart");
    var island = document.getElementById("concern-chart-data");
    if (!canvas || !island || typeof window.Chart !== "function") return;
    var data;
    try { data = JSON.parse(island.textContent); } catch (e) { return; }
    var points = (data && data.points) || [];
    if (points.length < 1) return;

    var levels = pairs(data.levels);
    var stages = pairs(data.stages);
    var levelTitle = canvas.getAttribute("data-level-title") || "Level of concern";
    var stageTitle = canvas.getAttribute("data-stage-title") || "Pathway stage";
    var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

    if (window.Chart.getChart(canvas)) return; // already drawn (htmx:afterSettle)
    Object.keys(window.Chart.instances).forEach(function (id) { // swapped-out canvases
      var c = window.Chart.instances[id];
      if (c && !c.canvas.isConnected) c.destroy();
    });

    var config = {
      type: "line",
      data: {
        // x axis = assessment order; label each tick with its date (YYYY-MM-DD).
        labels: points.map(function (p) { return String(p.at || "").slice(0, 10); }),
        datasets: [
          dataset(levelTitle, points.map(function (p) { return index(levels, p.level); }),
                  LEVEL_COLOR, "circle", "yLevel", true),
          dataset(stageTitle, points.map(function (p) { return index(stages, p.stage); }),
                  STAGE_COLOR, "rectRot", "yStage", false),
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        layout: { padding: { top: 10, bottom: 4 } },
        scales: {
          x: { ticks: { color: TEXT_COLOR }, grid: { color: GRID_COLOR } },
          yLevel: axis("left", levelTitle, levels, true),
          yStage: axis("right", stageTitle, stages, false),
        },
        plugins: {
          legend: {
            labels: {
              color: TEXT_COLOR, usePointStyle: true,
              sort: function (a, b) { return a.datasetIndex - b.datasetIndex; },
            },
          },
          tooltip: {
            usePointStyle: true,
            itemSort: function (a, b) { return a.datasetIndex - b.datasetIndex; },
            callbacks: {
              title: function (items) {
                var p = points[items[0].dataIndex];
                return (p.label || "") + " (" + String(p.at || "").slice(0, 10) + ")";
              },
              label: function (item) {
                var names = item.datasetIndex === 0 ? levels : stages;
                var v = item.raw;
                return item.dataset.label + ": " + (names[v] ? names[v][1] : "—");
              },
            },
          },
        },
      },
    };
    if (reduce) config.options.animation = false;
    new window.Chart(canvas, config);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  document.addEventListener("htmx:afterSettle", init);
})();
