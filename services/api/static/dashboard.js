// The dashboard: reads the API's JSON endpoints like any client, and reloads them when the live
// stream says a unit of the subtree on screen has changed. State lives in the URL hash
// (#u=<unit>&p=<period>), so a drill-down can be bookmarked, shared and undone with "back".

import { renderSpread, renderTrends } from "./charts.js";
import {
  EMPTY, formatAsOf, formatCount, formatGap, formatPercent, formatPeriod, formatRate, formatScore,
} from "./format.js";
import { installFilings, showFilings } from "./filings766.js";
import { renderScore } from "./score766.js";

const PERIODS = ["today", "last_7_days", "last_30_days", "month_to_date", "quarter_to_date", "year_to_date"];
const THIS_MONTH = "month_to_date"; // the children's spread is this month's, whatever the period shown
const DEFAULT_PERIOD = "month_to_date";
const SHOWN_ROWS = 10; // rows of a ranking before "Xem tất cả"
const REFRESH_MS = 1000; // at most one reload a second, however many units change at once
const RECONNECT_MS = 5000; // after the server refused the stream (EventSource gives up by itself)
const LEVELS = {
  province: "Tỉnh, thành phố", department: "Sở, ban, ngành", office: "Đơn vị trực thuộc sở",
  district: "Quận, huyện", commune: "Xã", ward: "Phường", special_zone: "Đặc khu",
};
const LIVE_TEXT = {
  connecting: "Đang kết nối…", live: "Trực tiếp", reconnecting: "Mất kết nối, đang thử lại…",
};

const state = {
  units: new Map(), // code → {code, name, level, parent, children: [codes]}
  calendar: [], // the calendar periods published today (GET /v1/periods), newest first
  defaultRoot: null,
  root: null,
  period: DEFAULT_PERIOD,
  stream: null,
  generation: 0, // bumped by every reload; an answer for an older one is dropped
  expanded: new Set(), // rankings showing every row
  notice: null, // said about the address asked for (an unknown unit), kept until the next one
  data: null, // the answers on screen, kept to redraw without asking again
  refreshTimer: null,
  lastRefresh: -Infinity,
};

const $ = (selector, scope = document) => scope.querySelector(selector);

async function getJson(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined));
  const url = query.toString() ? `${path}?${query}` : path;
  const answer = await fetch(url, { headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error(`${url}: HTTP ${answer.status}`);
  return answer.json();
}

// The unit tree, flattened; the default root is the one with the largest subtree (the province,
// not a stray unit whose parent is unknown).
async function loadTree() {
  const { roots } = await getJson("/v1/units");
  const units = new Map();
  const size = (node, parent) => {
    units.set(node.code, {
      code: node.code, name: node.name || node.code, level: node.level, parent,
      children: node.children.map((c) => c.code),
    });
    return 1 + node.children.reduce((sum, child) => sum + size(child, node.code), 0);
  };
  const sizes = roots.map((root) => [root.code, size(root, null)]);
  sizes.sort((a, b) => b[1] - a[1]);
  state.units = units;
  state.defaultRoot = sizes.length ? sizes[0][0] : null;
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { unit: params.get("u"), period: params.get("p") };
}

function hrefFor(unit, period = state.period) {
  return `#${new URLSearchParams({ u: unit, p: period })}`;
}

function unitName(code) {
  return state.units.get(code)?.name ?? code;
}

// Shows what the hash asks for: on load, after a click on a unit, a crumb or a period.
async function show() {
  const wanted = readHash();
  state.period = PERIODS.includes(wanted.period) || state.calendar.includes(wanted.period)
    ? wanted.period : DEFAULT_PERIOD;
  let root = wanted.unit || state.defaultRoot;
  state.notice = null;
  if (!state.units.has(root)) {
    await loadTree(); // a unit added since the page loaded
    if (!state.units.has(root)) {
      if (wanted.unit) state.notice = `Không có đơn vị mã ${wanted.unit}; đang hiển thị đơn vị cấp cao nhất.`;
      root = state.defaultRoot;
    }
  }
  if (root === null) {
    showError("Chưa có đơn vị nào trong danh mục.");
    return;
  }
  const moved = state.root !== null && root !== state.root;
  if (root !== state.root) {
    state.root = root;
    state.expanded.clear();
    connectStream();
  }
  renderFrame();
  await refresh();
  // A unit reached from a link (a ranking's row, a crumb) redraws that link away, which leaves the
  // keyboard's focus nowhere: it goes to the new unit's name, where Tab then follows the page's order.
  if (moved && document.activeElement === document.body) $("#unit-name").focus();
}

function renderFrame() {
  const unit = state.units.get(state.root);
  $("#unit-name").textContent = unit.name;
  $("#unit-level").textContent = LEVELS[unit.level] ?? unit.level ?? "";
  document.title = `${unit.name} · số liệu một cửa`;

  const path = [];
  for (let code = state.root; code !== null && !path.includes(code); code = state.units.get(code)?.parent ?? null) {
    path.unshift(code);
  }
  const crumbs = path.map((code) => {
    if (code === state.root) {
      const here = document.createElement("span");
      here.setAttribute("aria-current", "page");
      here.textContent = unitName(code);
      return here;
    }
    const link = document.createElement("a");
    link.href = hrefFor(code);
    link.textContent = unitName(code);
    return link;
  });
  $("#breadcrumb").replaceChildren(...crumbs);
  $("#breadcrumb").hidden = path.length < 2; // at the top, the title says it all

  for (const button of document.querySelectorAll("#periods button")) {
    button.setAttribute("aria-pressed", String(button.dataset.period === state.period));
  }
  for (const format of ["xlsx", "csv"]) {
    const query = new URLSearchParams({ figure: "online_rate", period: state.period, unit: state.root, format });
    $(`#report-${format}`).href = `/v1/reports/targets?${query}`;
  }
  const calendar = $("#calendar-period");
  calendar.value = state.calendar.includes(state.period) ? state.period : "";
  calendar.classList.toggle("chosen", calendar.value !== "");
}

// The calendar months, quarters and years the figures carry today, as the picker's choices.
async function loadPeriods() {
  const periods = await getJson("/v1/periods");
  const groups = [["Tháng", periods.months], ["Quý", periods.quarters], ["Năm", periods.years]];
  const select = $("#calendar-period");
  const first = select.options[0];
  const optgroups = groups.map(([label, names]) => {
    const group = document.createElement("optgroup");
    group.label = label;
    for (const name of names) group.append(new Option(formatPeriod(name), name));
    return group;
  });
  select.replaceChildren(first, ...optgroups);
  state.calendar = groups.flatMap(([, names]) => names);
}

// Reloads everything on screen from the API. The root's own online-rate target comes from the
// ranking of its siblings, which carries each unit's target for the period.
async function refresh() {
  const generation = ++state.generation;
  state.lastRefresh = performance.now();
  const { root, period } = state;
  const parent = state.units.get(root)?.parent ?? null;
  const ranking = (figure, parentCode) => getJson("/v1/rankings", { figure, period, parent: parentCode });
  const unitPath = (code) => `/v1/units/${encodeURIComponent(code)}`;
  const childScores = (code, p) => getJson(`${unitPath(code)}/children/scores`, { period: p });
  try {
    const [rollup, online, onTime, overdue, siblings, score, children, scoreSiblings, trends, spread, filings] =
      await Promise.all([
        getJson(`${unitPath(root)}/rollup`),
        ranking("online_rate", root),
        ranking("on_time_rate", root),
        ranking("pending_overdue", root),
        ranking("online_rate", parent),
        getJson(`${unitPath(root)}/score`, { period }),
        childScores(root, period),
        parent === null ? null : childScores(parent, period),
        getJson(`${unitPath(root)}/trends`),
        period === THIS_MONTH ? null : childScores(root, THIS_MONTH),
        // For its shortfalls only (the filings section pages its lists itself).
        getJson(`${unitPath(root)}/filings`, { period, per_page: 1 }),
      ]);
    if (generation !== state.generation) return;
    const own = siblings.units.find((row) => row.code === root) ?? null;
    state.data = { rollup, own, online: online.units, onTime: onTime.units, overdue: overdue.units,
      score, children, scoreSiblings, trends, spread: spread ?? children, shortfalls: filings.shortfalls };
    render();
    hideError();
  } catch (error) {
    if (generation !== state.generation) return;
    showError(`Không tải được số liệu (${error.message}); sẽ thử lại.`);
    scheduleRefresh(RECONNECT_MS);
  }
}

function render() {
  const { rollup, own, online, onTime, overdue, score, children, scoreSiblings, trends, spread, shortfalls } =
    state.data;
  renderHeadline(rollup, own);
  renderScore(score, scoreSiblings, state.root, shortfalls);
  renderScoreRanking(children.units);
  renderTrends(trends);
  renderSpread(spread);
  renderRanking("#rank-online", online, true);
  renderRanking("#rank-on-time", onTime, false);
  renderOverdue(overdue);
  showFilings(state.root, state.period);
}

function setCard(figure, value, note, alert = false) {
  const card = $(`.card[data-figure="${figure}"]`);
  $(".value", card).textContent = value;
  $(".note", card).textContent = note;
  card.classList.toggle("alert", alert);
}

function renderHeadline(rollup, own) {
  const f = rollup.periods[state.period];
  setCard("received_total", formatCount(f.received_total),
    `${formatCount(f.received_online)} trực tuyến · ${formatCount(f.received_in_person)} trực tiếp`);
  let targetNote = "Chưa đặt mục tiêu";
  if (own && own.target !== null) {
    targetNote = `Mục tiêu ${formatRate(own.target)}`;
    if (own.gap !== null) targetNote += ` · ${own.met ? "đạt" : "chưa đạt"} (${formatGap(own.gap)})`;
  }
  setCard("online_rate", formatRate(f.online_rate), targetNote, own?.met === false);
  // The headline is 2.1 as the portal computes it, so its note counts 2.1's overdue filings (fixed
  // verdicts and open ones judged at the period's cutoff), not the press-style late resolutions.
  setCard("on_time_rate", formatRate(f.on_time_rate),
    `${formatCount(f.portal_overdue + f.portal_pending_overdue)} hồ sơ quá hạn trong ${formatCount(f.received_total)} tiếp nhận`);
  const pending = f.pending_within_due + f.pending_overdue;
  setCard("pending_overdue", formatCount(f.pending_overdue),
    `trong ${formatCount(pending)} hồ sơ đang giải quyết`, f.pending_overdue > 0);
  setCard("returned_total", formatCount(f.returned_total),
    `${formatCount(f.returned_supplement_requested)} yêu cầu bổ sung`);
  $("#as-of").textContent = rollup.as_of_max ? `Số liệu đến ${formatAsOf(rollup.as_of_max)}` : "Chưa có số liệu";
}

function makeRow(row, rank, valueText) {
  const item = $("#row-template").content.firstElementChild.cloneNode(true);
  item.dataset.code = row.code;
  $(".rank", item).textContent = rank ?? EMPTY;
  const name = $(".name", item);
  name.textContent = row.name ?? row.code;
  name.href = hrefFor(row.code);
  $(".value", item).textContent = valueText;
  return item;
}

// A ranking of rates: a bar for the value, a mark at the target, and the gap when there is one.
// Units without filings in the period have no rate: counted in one line rather than listed.
function renderRanking(selector, rows, withTargets) {
  const valued = rows.filter((row) => row.value !== null);
  const items = valued.map((row) => {
    const item = makeRow(row, row.rank, formatRate(row.value));
    const bar = $(".bar", item);
    $(".fill", bar).style.width = `${Math.min(100, (row.value ?? 0) * 100)}%`;
    const mark = $(".mark", bar);
    if (row.target !== null) mark.style.left = `${Math.min(100, row.target * 100)}%`;
    else mark.remove();
    if (withTargets || row.target !== null) {
      $(".target", item).textContent = row.target === null ? "Chưa có mục tiêu" : `Mục tiêu ${formatRate(row.target)}`;
      const gap = $(".gap", item);
      gap.textContent = formatGap(row.gap);
      if (row.met !== null) gap.classList.add(row.met ? "met" : "missed");
    }
    return item;
  });
  const unvalued = rows.length - valued.length;
  fillList(selector, items, rows.length ? "" : "Không có đơn vị trực thuộc.",
    unvalued ? `${formatCount(unvalued)} đơn vị chưa có hồ sơ trong kỳ.` : "");
}

// Children by their share of the measured points of Decision 766: the score of the points measured.
function renderScoreRanking(rows) {
  const items = rows.filter((row) => row.rank !== null).map((row) => {
    const item = makeRow(row, row.rank, `${formatScore(row.score)} / ${formatCount(row.maxScore)}`);
    $(".fill", item).style.width = `${Math.min(100, row.share * 100)}%`;
    $(".mark", item).remove();
    $(".target", item).textContent = row.noFilings ? "Không có hồ sơ trong kỳ"
      : `${formatRate(row.share)} số điểm đo được · đúng hạn ${formatPercent(row.onTimeRatio)}`;
    return item;
  });
  fillList("#rank-score", items, "Không có đơn vị trực thuộc.");
}

// Overdue now: the API ranks fewest first (lower is better); here the most come first, and units
// with none are left out.
function renderOverdue(rows) {
  const withOverdue = rows.filter((row) => row.value > 0).sort((a, b) => b.value - a.value || (a.code < b.code ? -1 : 1));
  const items = withOverdue.map((row, i) => {
    const item = makeRow(row, i + 1, `${formatCount(row.value)} hồ sơ`);
    $(".bar", item).remove();
    item.classList.add("alert");
    return item;
  });
  fillList("#overdue", items, "Không có hồ sơ quá hạn.");
}

// The first rows (or all, once asked), then a line of remarks: why the list is empty, or what it leaves out.
function fillList(selector, items, emptyText, remark = "") {
  const section = $(selector);
  const list = $(".ranking", section);
  const expanded = state.expanded.has(selector);
  const shown = expanded ? items : items.slice(0, SHOWN_ROWS);
  const note = [items.length ? "" : emptyText, remark].filter(Boolean).join(" ");
  if (note) {
    const line = document.createElement("li");
    line.className = "empty";
    line.textContent = note;
    shown.push(line);
  }
  list.replaceChildren(...shown);
  const more = $(".more", section);
  more.hidden = items.length <= SHOWN_ROWS;
  more.setAttribute("aria-expanded", String(expanded));
  more.textContent = expanded ? "Thu gọn" : `Xem tất cả (${formatCount(items.length)})`;
}

function scheduleRefresh(delay = Math.max(0, state.lastRefresh + REFRESH_MS - performance.now())) {
  if (state.refreshTimer !== null) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    refresh();
  }, delay);
}

function setLive(status) {
  const live = $("#live");
  live.dataset.state = status;
  live.textContent = LIVE_TEXT[status];
}

// Changes in the subtree on screen; each one (coalesced server-side) schedules a reload.
function connectStream(afterDrop = false) {
  state.stream?.close();
  const root = state.root;
  const stream = new EventSource(`/v1/stream?${new URLSearchParams({ unit: root })}`);
  state.stream = stream;
  let dropped = afterDrop;
  setLive("connecting");
  stream.addEventListener("open", () => {
    setLive("live");
    if (dropped) scheduleRefresh(); // whatever changed while the connection was down
  });
  stream.addEventListener("error", () => {
    if (stream !== state.stream) return;
    dropped = true;
    setLive("reconnecting");
    if (stream.readyState === EventSource.CLOSED) {
      setTimeout(() => { if (stream === state.stream) connectStream(true); }, RECONNECT_MS);
    }
  });
  for (const event of ["figures", "removed", "reset"]) {
    stream.addEventListener(event, () => scheduleRefresh());
  }
}

function showError(text) {
  const error = $("#error");
  error.textContent = text;
  error.hidden = false;
}

function hideError() {
  if (state.notice) showError(state.notice);
  else $("#error").hidden = true;
}

function wireControls() {
  for (const button of document.querySelectorAll("#periods button")) {
    button.addEventListener("click", () => { location.hash = hrefFor(state.root, button.dataset.period); });
  }
  $("#calendar-period").addEventListener("change", (event) => {
    if (event.target.value) location.hash = hrefFor(state.root, event.target.value);
  });
  for (const section of document.querySelectorAll(".panel:has(.more)")) {
    $(".more", section).addEventListener("click", () => {
      const key = `#${section.id}`;
      if (!state.expanded.delete(key)) state.expanded.add(key);
      if (state.data) render();
    });
  }
  window.addEventListener("hashchange", navigate);
}

// Every navigation: a failure to read the unit tree is said on the page, and the next one retries.
async function navigate() {
  try {
    if (!state.units.size) await Promise.all([loadTree(), loadPeriods()]);
    await show();
  } catch (error) {
    showError(`Không tải được danh mục đơn vị (${error.message}). Tải lại trang để thử lại.`);
  }
}

wireControls();
installFilings();
navigate();
