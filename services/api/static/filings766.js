// The filings behind 2.1 (GET /v1/units/{code}/filings): tabs for the three lists, paging, the
// portal's reason in Vietnamese, how many filings 2.1 is short of full marks and of its target, and
// links to the CSV and Excel exports of the list shown.

import { EMPTY, formatAsOf, formatCount, formatPeriod } from "./format.js";

const $ = (selector, scope = document) => scope.querySelector(selector);
const PER_PAGE = 20;
export const REASONS = {
  past_due: "Giải quyết sau hạn",
  second_supplement_request: "Yêu cầu bổ sung lần hai",
  open_past_due: "Chưa giải quyết, đã quá hạn",
};
const LABELS = {
  overdue_now: "đang quá hạn",
  due_soon: "sẽ đến hạn trước hết ngày làm việc tiếp theo",
  late: "tính trễ hạn trong kỳ",
};

// The rolling periods as the period buttons name them; calendar ones through formatPeriod.
const ROLLING = { today: "hôm nay", last_7_days: "7 ngày", last_30_days: "30 ngày", month_to_date: "tháng này",
  quarter_to_date: "quý này", year_to_date: "từ đầu năm" };

const state = { code: null, period: null, list: "overdue_now", page: 1, pages: 0, generation: 0 };

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function url(format) {
  const query = new URLSearchParams({ list: state.list, period: state.period });
  if (format) query.set("format", format);
  else query.set("page", String(state.page)), query.set("per_page", String(PER_PAGE));
  return `/v1/units/${encodeURIComponent(state.code)}/filings?${query}`;
}

function render(answer) {
  const section = $("#filings766");
  for (const tab of section.querySelectorAll(".filing-tabs button")) {
    const selected = tab.dataset.list === state.list;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1; // Tab stops at the list shown; the arrow keys reach the others
    if (selected) $("#filings-panel").setAttribute("aria-labelledby", tab.id);
  }
  const where = state.list === "late" ? ` (${ROLLING[state.period] ?? formatPeriod(state.period)})` : "";
  $(".filing-count", section).textContent = `${formatCount(answer.count)} hồ sơ ${LABELS[state.list]}${where}`
    + (answer.count > answer.kept ? ` · hiển thị ${formatCount(answer.kept)} hồ sơ quá hạn nhiều nhất` : "")
    + (answer.as_of ? ` · cập nhật ${formatAsOf(answer.as_of)}` : "");
  const onTime = answer.shortfalls.find((s) => s.indicator === "2.1");
  let shortfall = "";
  if (onTime) {
    shortfall = onTime.to_full_marks === 0 ? "Chỉ số 2.1 đạt điểm tối đa"
      : `Chỉ số 2.1: cần thêm ${formatCount(onTime.to_full_marks)} hồ sơ đúng hạn để đạt điểm tối đa`;
    if (onTime.to_target !== null) {
      shortfall += onTime.to_target === 0 ? " · đã đạt mục tiêu"
        : ` · ${formatCount(onTime.to_target)} hồ sơ để đạt mục tiêu`;
    }
  }
  $(".filing-shortfall", section).textContent = shortfall;
  const rows = answer.filings.map((filing) => {
    const row = document.createElement("tr");
    row.dataset.filing = filing.filing_id;
    const over = state.list === "due_soon"
      ? (filing.hours_left === null ? EMPTY : `còn ${formatCount(filing.hours_left)} giờ`)
      : (filing.days_over === null ? EMPTY : `${formatCount(filing.days_over)} ngày`);
    row.append(cell(filing.filing_id), cell(filing.procedure_code ?? EMPTY), cell(formatAsOf(filing.received_at)),
      cell(formatAsOf(filing.due_at)), cell(over, "over"),
      cell(filing.reason ? REASONS[filing.reason] ?? filing.reason : "Chưa quá hạn", "reason"));
    return row;
  });
  $("tbody", section).replaceChildren(...rows);
  state.pages = answer.pages;
  const pages = $(".filing-pages", section);
  pages.hidden = answer.pages <= 1;
  $(".page", pages).textContent = `Trang ${formatCount(state.page)}/${formatCount(Math.max(1, answer.pages))}`;
  const [prev, next] = [$(".prev", pages), $(".next", pages)];
  // A button disabled under the keyboard's focus would drop it to the page's top: it goes to the other.
  const focused = document.activeElement;
  prev.disabled = state.page <= 1;
  next.disabled = state.page >= answer.pages;
  if (focused === next && next.disabled && !prev.disabled) prev.focus();
  if (focused === prev && prev.disabled && !next.disabled) next.focus();
  $(".csv", section).href = url("csv");
  $(".xlsx", section).href = url("xlsx");
}

async function load() {
  const generation = ++state.generation;
  const section = $("#filings766");
  if (state.list === "late" && state.period === "all_time") {
    render({ count: 0, kept: 0, as_of: null, shortfalls: [], filings: [], pages: 0 });
    $(".filing-count", section).textContent = "Danh sách trễ hạn chỉ có theo tháng, quý, năm và các kỳ gần đây.";
    return;
  }
  try {
    const answer = await fetch(url(null), { headers: { Accept: "application/json" } });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    const body = await answer.json();
    if (generation === state.generation) render(body);
  } catch (error) {
    if (generation !== state.generation) return;
    $(".filing-count", section).textContent = `Không tải được danh sách hồ sơ (${error.message}).`;
    $("tbody", section).replaceChildren();
  }
}

// Called on every refresh: a new unit or period starts again from the first page.
export function showFilings(code, period) {
  if (code !== state.code || period !== state.period) state.page = 1;
  state.code = code;
  state.period = period;
  return load();
}

export function installFilings() {
  const section = $("#filings766");
  const tabs = [...section.querySelectorAll(".filing-tabs button")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      state.list = tab.dataset.list;
      state.page = 1;
      load();
    });
  }
  // Left and right arrows move between the tabs (round), Home and End to the first and last; Enter
  // or Space, a button's own keys, pick the one focused.
  $(".filing-tabs", section).addEventListener("keydown", (event) => {
    const at = tabs.indexOf(document.activeElement);
    const to = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (at < 0 || to === undefined) return;
    event.preventDefault();
    tabs[(to + tabs.length) % tabs.length].focus();
  });
  $(".prev", section).addEventListener("click", () => { state.page = Math.max(1, state.page - 1); load(); });
  $(".next", section).addEventListener("click", () => { state.page = Math.min(state.pages, state.page + 1); load(); });
}
