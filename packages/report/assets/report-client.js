/*
 * lvit-bench report: draws the charts from the results JSON embedded in index.html
 * (<script id="report-data">). Plain script (no modules) so the page works from file://.
 * Each <canvas data-chart="..."> names its chart kind; data-* attributes select the data.
 */
(function () {
  'use strict';

  var dataEl = document.getElementById('report-data');
  if (!dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var canvases = Array.prototype.slice.call(document.querySelectorAll('canvas[data-chart]'));
  if (canvases.length === 0) return;
  if (typeof window.Chart === 'undefined') {
    console.error('report: chart.js did not load (assets/chart.umd.min.js)');
    return;
  }
  var Chart = window.Chart;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.size = 11;
  Chart.defaults.color = '#3b4350';
  Chart.defaults.plugins.legend.labels.usePointStyle = true;

  var MODEL_COLORS = {
    unet: '#1f77b4',
    transunet: '#9467bd',
    nnunet: '#8c564b',
    'lvit-tw': '#e07b00',
    'lvit-t': '#2a9d3a',
  };
  var SEED_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

  function modelColor(model) {
    return MODEL_COLORS[model] || '#6b7280';
  }
  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }
  function f2(x) {
    return x.toFixed(2);
  }
  function profileLabel(profile, reduced) {
    return profile + (reduced ? ', reduced' : '');
  }
  /** Deterministic jitter in [-0.5, 0.5) from a string (FNV-1a). */
  function jitter(text) {
    var h = 2166136261;
    for (var i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 16777619);
    }
    return ((h >>> 0) / 4294967296) - 0.5;
  }
  function openRunOnClick(evt, elements, chart) {
    if (!elements.length) return;
    var el = elements[0];
    var point = chart.data.datasets[el.datasetIndex].data[el.index];
    if (point && point.anchor) window.location.hash = point.anchor;
  }
  function pointTooltip(ctx) {
    var p = ctx.raw;
    return p && p.tip ? p.tip : ctx.dataset.label + ': ' + f2(ctx.parsed.y);
  }

  /** Dice vs label ratio: our mean per (profile, model) as a line, seeds as dots, paper points as triangles. */
  function fractionChart(attrs) {
    var rows = data.rows.filter(function (r) { return r.dataset === attrs.dataset; });
    var datasets = [];
    var seriesKeys = [];
    rows.forEach(function (r) {
      var key = r.profile + '|' + r.model;
      if (seriesKeys.indexOf(key) < 0) seriesKeys.push(key);
    });
    seriesKeys.forEach(function (key) {
      var series = rows
        .filter(function (r) { return r.profile + '|' + r.model === key; })
        .sort(function (a, b) { return a.labelPercent - b.labelPercent; });
      var first = series[0];
      var color = modelColor(first.model);
      var name = first.modelLabel + ' · ours (' + profileLabel(first.profile, first.reduced) + ')';
      datasets.push({
        type: 'line',
        label: name,
        data: series.map(function (r) {
          return {
            x: r.labelPercent,
            y: r.dice.mean,
            anchor: r.groupAnchor,
            tip: name + ', ' + r.labelPercent + '%: ' + f2(r.dice.mean) + (r.dice.std === null ? ' (n=1)' : ' ± ' + f2(r.dice.std) + ' (n=' + r.n + ')'),
          };
        }),
        borderColor: color,
        backgroundColor: color,
        borderDash: first.reduced ? [6, 4] : [],
        pointRadius: 4,
      });
      datasets.push({
        type: 'scatter',
        label: first.modelLabel + ' · seeds (' + first.profile + ')',
        data: series.flatMap(function (r) {
          return r.perSeed.map(function (s) {
            return { x: r.labelPercent + 1.2 * jitter(s.runId), y: s.dice, anchor: s.anchor, tip: s.runId + ': Dice ' + f2(s.dice) };
          });
        }),
        backgroundColor: alpha(color, 0.45),
        borderColor: alpha(color, 0.45),
        pointRadius: 2.5,
      });
    });
    var models = [];
    rows.forEach(function (r) { if (models.indexOf(r.model) < 0) models.push(r.model); });
    data.published
      .filter(function (p) { return p.dataset === attrs.dataset && models.indexOf(p.model) >= 0; })
      .forEach(function (p) {
        var existing = datasets.find(function (d) { return d.paperModel === p.model && d.paperSource === p.source; });
        var point = { x: p.labelPercent, y: p.dice, tip: 'paper ' + p.modelLabel + ', ' + p.labelPercent + '%: ' + f2(p.dice) + ' (' + p.source + ')' };
        if (existing) { existing.data.push(point); return; }
        var color = modelColor(p.model);
        datasets.push({
          type: 'scatter',
          label: p.modelLabel + ' · paper (' + p.source + ')',
          paperModel: p.model,
          paperSource: p.source,
          data: [point],
          pointStyle: p.source.indexOf('verified') === 0 ? 'triangle' : 'rectRot',
          pointRadius: 7,
          borderColor: color,
          backgroundColor: alpha(color, 0.15),
          borderWidth: 2,
        });
      });
    return {
      type: 'scatter',
      data: { datasets: datasets },
      options: {
        onClick: openRunOnClick,
        scales: {
          x: { type: 'linear', min: 0, max: 105, title: { display: true, text: 'labelled training images (%)' }, afterBuildTicks: function (axis) { axis.ticks = [0, 25, 50, 75, 100].map(function (v) { return { value: v }; }); } },
          y: { title: { display: true, text: 'test Dice (%)' } },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 10, filter: function (item) { return item.text.indexOf(' · seeds') < 0; } } },
          tooltip: { callbacks: { label: pointTooltip } },
        },
      },
    };
  }

  /** Per-image Dice: jittered strip per (model, label ratio), with quartile and median markers. */
  function perImageChart(attrs) {
    var rows = data.rows.filter(function (r) { return r.dataset === attrs.dataset && r.profile === attrs.profile; });
    var labels = rows.map(function (r) { return r.modelLabel + ' ' + r.labelPercent + '%'; });
    var datasets = [];
    rows.forEach(function (r, i) {
      var color = modelColor(r.model);
      var runs = data.runs.filter(function (run) { return run.groupAnchor === r.groupAnchor; });
      var points = runs.flatMap(function (run) {
        return run.perImage.map(function (p) {
          return { x: i + 0.6 * jitter(run.seed + '/' + p.id), y: p.dice, anchor: run.anchor, tip: p.id + ' (seed ' + run.seed + '): Dice ' + f2(p.dice) };
        });
      });
      datasets.push({
        label: labels[i],
        data: points,
        backgroundColor: alpha(color, points.length > 500 ? 0.18 : 0.45),
        borderWidth: 0,
        pointRadius: points.length > 500 ? 1.5 : 2.5,
      });
      var stats = data.perImageStats.find(function (s) { return s.groupAnchor === r.groupAnchor; });
      if (stats) {
        datasets.push({
          label: labels[i] + ' quartiles',
          data: [
            { x: i, y: stats.q1, tip: 'lower quartile ' + f2(stats.q1) },
            { x: i, y: stats.median, tip: 'median ' + f2(stats.median) + ' (' + stats.n + ' image scores)' },
            { x: i, y: stats.q3, tip: 'upper quartile ' + f2(stats.q3) },
          ],
          pointStyle: 'line',
          pointRadius: [14, 22, 14],
          borderWidth: [2, 4, 2],
          borderColor: '#111827',
          backgroundColor: '#111827',
        });
      }
    });
    return {
      type: 'scatter',
      data: { datasets: datasets },
      options: {
        onClick: openRunOnClick,
        scales: {
          x: {
            type: 'linear',
            min: -0.5,
            max: Math.max(rows.length - 0.5, 0.5),
            // One tick per group at its integer position (a linear axis would start ticks at min = -0.5).
            afterBuildTicks: function (axis) { axis.ticks = labels.map(function (_, i) { return { value: i }; }); },
            ticks: { autoSkip: false, callback: function (v) { return labels[v] !== undefined ? labels[v] : ''; } },
            grid: { display: false },
          },
          y: { min: 0, max: 100, title: { display: true, text: 'per-image test Dice (%)' } },
        },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: pointTooltip } } },
      },
    };
  }

  /** Cost vs accuracy: one point per run, wall time against test Dice. */
  function costChart(attrs) {
    var runs = data.runs.filter(function (r) { return r.dataset === attrs.dataset; });
    var groups = [];
    runs.forEach(function (r) {
      var key = r.model + '|' + r.profile;
      if (groups.indexOf(key) < 0) groups.push(key);
    });
    var times = runs.map(function (r) { return r.wallTimeSec / 60; }).filter(function (t) { return t > 0; });
    var logScale = times.length > 1 && Math.max.apply(null, times) / Math.min.apply(null, times) > 20;
    var datasets = groups.map(function (key) {
      var members = runs.filter(function (r) { return r.model + '|' + r.profile === key; });
      var color = modelColor(members[0].model);
      return {
        label: members[0].modelLabel + ' (' + profileLabel(members[0].profile, members[0].reduced) + ')',
        data: members.map(function (r) {
          var macs = r.macsPerImage ? ', ' + (r.macsPerImage / 1e9).toFixed(2) + ' G MACs/image' : '';
          return {
            x: Math.max(r.wallTimeSec / 60, 1e-3),
            y: r.dice,
            anchor: r.anchor,
            tip: r.runId + ': Dice ' + f2(r.dice) + ', ' + (r.wallTimeSec / 60).toFixed(1) + ' min, ' + r.paramCount.toLocaleString('en-US') + ' params' + macs,
          };
        }),
        backgroundColor: alpha(color, 0.7),
        borderColor: color,
        pointRadius: 5,
        pointStyle: members[0].reduced ? 'rect' : 'circle',
      };
    });
    return {
      type: 'scatter',
      data: { datasets: datasets },
      options: {
        onClick: openRunOnClick,
        scales: {
          x: { type: logScale ? 'logarithmic' : 'linear', title: { display: true, text: 'wall time per run (min' + (logScale ? ', log scale' : '') + ')' } },
          y: { title: { display: true, text: 'test Dice (%)' } },
        },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 10 } }, tooltip: { callbacks: { label: pointTooltip } } },
      },
    };
  }

  /** Training curves of one group: per seed, training loss (left) and validation Dice (right). */
  function curvesChart(attrs) {
    var runs = data.runs.filter(function (r) { return r.groupAnchor === attrs.group; });
    var datasets = [];
    runs.forEach(function (run, i) {
      var color = SEED_COLORS[i % SEED_COLORS.length];
      datasets.push({
        label: 'seed ' + run.seed + ' loss',
        data: run.curves.map(function (c) { return { x: c.epoch, y: c.trainLoss }; }),
        yAxisID: 'y',
        borderColor: color,
        backgroundColor: color,
        pointRadius: run.curves.length > 40 ? 0 : 2,
      });
      datasets.push({
        label: 'seed ' + run.seed + ' val Dice',
        data: run.curves.map(function (c) { return { x: c.epoch, y: c.valDice }; }),
        yAxisID: 'y1',
        borderColor: color,
        backgroundColor: color,
        borderDash: [5, 4],
        pointRadius: run.curves.length > 40 ? 0 : 2,
      });
      // Semi-supervised runs: each loss term (diceBCE, pseudo, lv) on the loss axis, dotted, one dash pattern per term.
      var names = [];
      run.curves.forEach(function (c) {
        Object.keys(c.terms || {}).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); });
      });
      names.forEach(function (name, j) {
        datasets.push({
          label: 'seed ' + run.seed + ' ' + name,
          data: run.curves
            .filter(function (c) { return c.terms && typeof c.terms[name] === 'number'; })
            .map(function (c) { return { x: c.epoch, y: c.terms[name] }; }),
          yAxisID: 'y',
          borderColor: color,
          backgroundColor: color,
          borderWidth: 1,
          borderDash: [1 + j, 2 + j],
          pointStyle: ['rect', 'triangle', 'star', 'crossRot'][j % 4],
          pointRadius: run.curves.length > 40 ? 0 : 2,
        });
      });
    });
    return {
      type: 'line',
      data: { datasets: datasets },
      options: {
        parsing: true,
        scales: {
          x: { type: 'linear', title: { display: true, text: 'epoch' }, ticks: { precision: 0 } },
          y: { position: 'left', title: { display: true, text: 'train loss' } },
          y1: { position: 'right', min: 0, max: 100, title: { display: true, text: 'val Dice (%)' }, grid: { drawOnChartArea: false } },
        },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 8, font: { size: 10 } } } },
      },
    };
  }

  var builders = { fraction: fractionChart, perimage: perImageChart, cost: costChart, curves: curvesChart };

  canvases.forEach(function (canvas) {
    var kind = canvas.getAttribute('data-chart');
    var build = builders[kind];
    try {
      if (!build) throw new Error('unknown chart kind ' + kind);
      new Chart(canvas, build(canvas.dataset));
      canvas.setAttribute('data-drawn', 'true');
    } catch (err) {
      console.error('report: chart ' + kind + ' failed: ' + (err && err.message));
      var note = document.createElement('p');
      note.className = 'chart-error';
      note.textContent = 'This chart could not be drawn: ' + (err && err.message);
      canvas.parentNode.appendChild(note);
    }
  });
})();
