// Trends as charts, drawn with Chart.js (services/api/static/vendor, loaded before this module as
// window.Chart): the unit's score and its on-time and online rates month by month and day by day,
// and its children's scores this month. Each chart is made once and its data replaced on every
// reload, without animation, so that a live update does not redraw from zero.

import { formatPeriod, formatScore } from "./format.js";

const COLOURS = { score: "#1c1b1f", onTime: "#1b6e3a", online: "#3c6fd8", spread: "#3c6fd8" };
const charts = new Map(); // canvas id → Chart

const percent = (rate) => (rate === null || rate === undefined ? null : Math.round(rate * 10000) / 100);

function upsert(id, config) {
  const existing = charts.get(id);
  if (existing) {
    existing.data = config.data;
    existing.options = config.options;
    existing.update("none");
    return existing;
  }
  const canvas = document.getElementById(id);
  const chart = new window.Chart(canvas, config);
  charts.set(id, chart);
  return chart;
}

function axes(maxScore) {
  const tick = { callback: (value) => formatScore(value).replace(/,00$/, "") };
  return {
    score: { type: "linear", position: "left", min: 0, suggestedMax: maxScore || 20,
      title: { display: true, text: "Điểm 766" }, ticks: tick },
    rate: { type: "linear", position: "right", min: 0, max: 100, grid: { drawOnChartArea: false },
      title: { display: true, text: "%" }, ticks: tick },
  };
}

function options(maxScore) {
  return {
    animation: false, responsive: true, maintainAspectRatio: false, spanGaps: false,
    interaction: { mode: "index", intersect: false },
    scales: axes(maxScore),
    plugins: {
      legend: { position: "bottom", labels: { boxWidth: 12 } },
      tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${item.raw === null ? "—" : formatScore(item.raw)}` } },
    },
  };
}

function series(points, label) {
  const maxScore = Math.max(0, ...points.map((p) => p.maxScore));
  return {
    type: "line",
    data: {
      labels: points.map(label),
      datasets: [
        { label: "Điểm 766", yAxisID: "score", data: points.map((p) => p.score), borderColor: COLOURS.score,
          backgroundColor: COLOURS.score, borderWidth: 2, pointRadius: 2 },
        { label: "Đúng hạn (2.1), %", yAxisID: "rate", data: points.map((p) => percent(p.on_time_rate)),
          borderColor: COLOURS.onTime, backgroundColor: COLOURS.onTime, borderWidth: 2, pointRadius: 2 },
        { label: "Trực tuyến, %", yAxisID: "rate", data: points.map((p) => percent(p.online_rate)),
          borderColor: COLOURS.online, backgroundColor: COLOURS.online, borderWidth: 2, pointRadius: 2,
          borderDash: [5, 3] },
      ],
    },
    options: options(maxScore),
  };
}

export function renderTrends(trends) {
  upsert("chart-months", series(trends.months, (p) => formatPeriod(p.period).replace("Tháng ", "")));
  upsert("chart-days", series(trends.days, (p) => `${p.day.slice(8, 10)}/${p.day.slice(5, 7)}`));
}

// The children's share of their measured points this month, best first, one bar each.
export function renderSpread(children) {
  const rows = children.units.filter((row) => row.share !== null);
  upsert("chart-spread", {
    type: "bar",
    data: {
      labels: rows.map((row) => row.name ?? row.code),
      datasets: [{ label: "% số điểm đo được", data: rows.map((row) => Math.round(row.share * 10000) / 100),
        backgroundColor: COLOURS.spread }],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      scales: { x: { ticks: { display: rows.length <= 12 } }, y: { min: 0, max: 100, title: { display: true, text: "%" } } },
      plugins: { legend: { display: false } },
    },
  });
  document.getElementById("spread-note").textContent = rows.length
    ? `${rows.length} đơn vị; cao nhất ${formatScore(Math.max(...rows.map((r) => r.share * 100)))} %, `
      + `thấp nhất ${formatScore(Math.min(...rows.map((r) => r.share * 100)))} %`
    : "Không có đơn vị trực thuộc.";
}
