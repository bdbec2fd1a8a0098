// The national view, beside the dashboard (dashboard.js) and independent of it: in a deployment whose
// registry has a national root (a unit of level "country", VN as seeded), a province picker, and on the
// country's page the provinces ranked by Decision 766's score as a share of the points measured (the
// API's one ranking rule, shown beside each total so that the order reads). Both only change the address
// (#u=<unit>&p=<period>), which the dashboard follows: picking or clicking a province drills down to
// its departments and communes.

import { EMPTY, formatCount } from "./format.js";

const PERIODS = ["today", "last_7_days", "last_30_days", "month_to_date", "quarter_to_date", "year_to_date"];
const DEFAULT_PERIOD = "month_to_date";
const REFRESH_MS = 15000; // scores move slowly; the portal itself recomputes them once a day

const $ = (selector, scope = document) => scope.querySelector(selector);
let timer = null;
let generation = 0;

function address() {
  const params = new URLSearchParams(location.hash.slice(1));
  const period = params.get("p");
  return { unit: params.get("u"), period: PERIODS.includes(period) ? period : DEFAULT_PERIOD };
}

function hrefFor(unit, period) {
  return `#${new URLSearchParams({ u: unit, p: period })}`;
}

async function getJson(path, params = {}) {
  const query = new URLSearchParams(params);
  const answer = await fetch(`${path}?${query}`, { headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error(`${path}: HTTP ${answer.status}`);
  return answer.json();
}

// One decimal with a comma: 71.4 → "71,4".
function formatScore(score) {
  if (score === null || score === undefined) return EMPTY;
  return score.toFixed(1).replace(".", ",");
}

function fillPicker(root, rows, unit) {
  const picker = $("#province-picker");
  const byName = [...rows].sort((a, b) => (a.name ?? a.code).localeCompare(b.name ?? b.code, "vi"));
  const country = new Option("Cả nước", root);
  picker.replaceChildren(country, ...byName.map((row) => new Option(row.name ?? row.code, row.code)));
  // A province on screen is selected; below a province (a commune), the picker says "Cả nước".
  picker.value = rows.some((row) => row.code === unit) ? unit : root;
}

function fillRanking(rows, period) {
  const list = $("#national-ranking");
  const items = rows.map((row) => {
    const item = document.createElement("li");
    item.className = "row";
    item.dataset.code = row.code;
    const rank = document.createElement("span");
    rank.className = "rank";
    rank.textContent = row.rank ?? EMPTY;
    const name = document.createElement("a");
    name.className = "name";
    name.href = hrefFor(row.code, period);
    name.textContent = row.name ?? row.code;
    const score = document.createElement("span");
    score.className = "value";
    score.textContent = row.noFilings ? "Chưa có hồ sơ"
      : `${formatScore(row.score)} / ${row.maxScore} điểm (${formatScore(row.share * 100)} %)`;
    const received = document.createElement("span");
    received.className = "target";
    received.textContent = `${formatCount(row.received)} hồ sơ`;
    item.append(rank, name, score, received);
    return item;
  });
  list.replaceChildren(...items);
}

async function refresh() {
  const mine = ++generation;
  clearTimeout(timer);
  const { unit, period } = address();
  try {
    // The roots, scored: a national registry has one of level "country"; a province's has none.
    const roots = await getJson("/v1/rankings/scores", { period });
    const root = roots.units.find((row) => row.level === "country")?.code;
    if (mine !== generation) return;
    const section = $("#national");
    if (root === undefined) {
      section.hidden = true;
      return;
    }
    const ranking = await getJson("/v1/rankings/scores", { parent: root, period });
    if (mine !== generation) return;
    section.hidden = false;
    fillPicker(root, ranking.units, unit);
    const atCountry = unit === null || unit === root;
    $("#national-ranking-panel").hidden = !atCountry;
    if (atCountry) fillRanking(ranking.units, period);
    $("#national-error").hidden = true;
  } catch (error) {
    if (mine !== generation) return;
    const note = $("#national-error");
    note.textContent = `Không tải được xếp hạng tỉnh (${error.message}); sẽ thử lại.`;
    note.hidden = false;
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

$("#province-picker").addEventListener("change", (event) => {
  location.hash = hrefFor(event.target.value, address().period);
});
window.addEventListener("hashchange", refresh);
refresh();
