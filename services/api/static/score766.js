// The 766 view: a unit's Decision 766 score over the points its filings measure, a bar per group,
// each indicator with its ratio, points and the points it loses and, under it, how many filings
// short of full marks and of its target it is (the API's `shortfalls`), and its rank among its siblings.

import { EMPTY, formatCount, formatPercent, formatRate, formatScore } from "./format.js";

const $ = (selector, scope = document) => scope.querySelector(selector);

// The API's names carry an English gloss in brackets ("Số hóa hồ sơ (digitisation)"): the page is Vietnamese.
export function vietnamese(name) {
  return (name ?? "").replace(/\s*\([^()]*\)\s*$/, "");
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function bar(share) {
  const outer = element("span", "bar");
  outer.setAttribute("aria-hidden", "true");
  const fill = element("span", "fill");
  fill.style.width = `${Math.max(0, Math.min(100, share * 100))}%`;
  outer.append(fill);
  return outer;
}

// Which way a filing must go to raise each indicator (services/contract/portal_scores.py INDICATORS).
const WAYS = {
  "2.1": "đúng hạn",
  "3.3": "nộp trực tuyến",
  "full-online": "trực tuyến toàn trình",
  "3.6": "thanh toán trực tuyến",
  "4.1": "có kết quả điện tử",
  "4.2": "được số hóa",
  "4.3": "tái sử dụng dữ liệu số hóa",
  "4.4": "đồng bộ Kho dữ liệu cá nhân",
  "4.5b": "khai thác CSDL quốc gia về dân cư",
  "5.4": "được đánh giá hài lòng",
};

// One indicator's shortfall (a row of GET /v1/units/{code}/filings's `shortfalls`) as a line. The
// shortfalls count the unit's own filings; where they differ from the row's (a unit whose children
// have filings too), the line says whose they are.
function shortfallText(short, indicator) {
  const way = WAYS[short.indicator] ? ` ${WAYS[short.indicator]}` : "";
  const full = short.to_full_marks === 0 ? "đạt điểm tối đa"
    : `cần thêm ${formatCount(short.to_full_marks)} hồ sơ${way} để đạt điểm tối đa`;
  const target = short.to_target === null ? ""
    : short.to_target === 0 ? " · đã đạt mục tiêu" : ` · ${formatCount(short.to_target)} hồ sơ để đạt mục tiêu`;
  const same = short.numerator === indicator.numerator && short.denominator === indicator.denominator;
  const text = full + target;
  return same ? text[0].toUpperCase() + text.slice(1)
    : `Riêng hồ sơ của đơn vị (${formatCount(short.numerator)}/${formatCount(short.denominator)}): ${text}`;
}

// `siblings`: the parent's children ranked (null at the top of the tree); `shortfalls`: the API's,
// for the same unit and period.
export function renderScore(score, siblings, root, shortfalls = []) {
  const section = $("#score766");
  const total = score.total;
  $(".score-total .value", section).textContent = formatScore(total.score);
  $(".score-total .of", section).textContent = `/ ${formatCount(total.maxScore)} điểm`;
  const share = total.maxScore ? total.score / total.maxScore : null;
  $(".score-note", section).textContent = `Đạt ${formatRate(share)} số điểm `
    + `đo được (${formatCount(total.maxScore)} trên ${formatCount(total.points)} điểm của Quyết định 766)`
    + (score.noFilings ? " · không có hồ sơ trong kỳ" : "");
  const own = siblings?.units.find((row) => row.code === root) ?? null;
  $(".score-rank", section).textContent = own === null
    ? "Đơn vị cấp cao nhất: không xếp hạng"
    : own.rank === null ? "Chưa xếp hạng"
      : `Hạng ${formatCount(own.rank)}/${formatCount(siblings.units.length)} trong các đơn vị cùng cấp`;

  const groups = score.groups.map((group) => {
    const item = element("li", "group");
    item.dataset.group = String(group.group);
    item.append(element("span", "name", `${group.group}. ${vietnamese(group.name)}`));
    const measured = group.score !== null;
    item.append(element("span", "value", measured
      ? `${formatScore(group.score)} / ${formatCount(group.maxScore)}` : "Chưa đo được"));
    item.append(bar(measured && group.maxScore ? group.score / group.maxScore : 0));
    item.append(element("span", "points", `${formatCount(group.points)} điểm theo Quyết định`));
    return item;
  });
  $(".groups", section).replaceChildren(...groups);

  const shortOf = new Map(shortfalls.map((short) => [short.indicator, short]));
  const rows = score.indicators.flatMap((indicator) => {
    const row = element("tr");
    row.dataset.indicator = indicator.indicator;
    const name = element("th", "", `${indicator.indicator === "full-online" ? "3.x" : indicator.indicator} `
      + vietnamese(indicator.name));
    name.scope = "row";
    const measured = indicator.measured;
    const lost = measured ? Math.round((indicator.maxScore - indicator.score) * 100) / 100 : null;
    const ratio = element("td", "ratio", measured ? formatPercent(indicator.ratio) : "Chưa đo");
    if (measured) ratio.title = `${formatCount(indicator.numerator)} / ${formatCount(indicator.denominator)} hồ sơ`;
    row.append(name, ratio,
      element("td", "points", measured ? `${formatScore(indicator.score)} / ${formatCount(indicator.maxScore)}` : EMPTY),
      element("td", lost ? "lost missed" : "lost", lost ? `−${formatScore(lost)}` : measured ? "0,00" : EMPTY));
    row.classList.toggle("unmeasured", !measured);
    const short = shortOf.get(indicator.indicator);
    if (!short || short.to_full_marks === null) return [row];
    // A line under the row, its row header spanning both: read with the indicator's name.
    name.rowSpan = 2;
    const line = element("tr", "shortfall");
    line.dataset.shortfall = indicator.indicator;
    const text = element("td");
    text.colSpan = 3;
    text.append(element("span", "", shortfallText(short, indicator)));
    line.append(text);
    return [row, line];
  });
  $(".indicators tbody", section).replaceChildren(...rows);
}
