// Numbers the Vietnamese way: "." groups thousands, "," is the decimal mark (12.345; 95,3 %).
// Hand-written rather than Intl.NumberFormat("vi-VN") so that the output does not depend on the
// browser's locale data (vi-VN also writes "95,3%" without the space that style guides ask for).

const NBSP = "\u00a0"; // keeps "95,3" and "%" on one line
const MINUS = "\u2212";
export const EMPTY = "—"; // no value: no filings in the period, so the rate is undefined

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ".");
}

// One decimal, rounded half away from zero (what toFixed does), without a "−0,0".
function oneDecimal(x) {
  const [whole, fraction] = Math.abs(x).toFixed(1).split(".");
  const sign = x < 0 && (whole !== "0" || fraction !== "0") ? MINUS : "";
  return `${sign}${groupThousands(whole)},${fraction}`;
}

export function formatCount(n) {
  if (n === null || n === undefined) return EMPTY;
  return (n < 0 ? MINUS : "") + groupThousands(String(Math.round(Math.abs(n))));
}

// A rate of 0..1 as a percentage with one decimal: 0.953 → "95,3 %".
export function formatRate(rate) {
  if (rate === null || rate === undefined) return EMPTY;
  return `${oneDecimal(rate * 100)}${NBSP}%`;
}

// A gap between two rates, in percentage points, signed: 0.031 → "+3,1 điểm".
export function formatGap(gap) {
  if (gap === null || gap === undefined) return "";
  const text = oneDecimal(gap * 100);
  const plus = /^[1-9]|^0,[1-9]/.test(text) ? "+" : "";
  return `${plus}${text}${NBSP}điểm`;
}

// "2026-03-10T10:00:05.123+07:00" → "10:00:05 ngày 10/03/2026", read from the string itself: the
// aggregator writes Ho Chi Minh time, which is what the reader wants whatever the browser's zone.
export function formatAsOf(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso || "");
  if (!match) return "";
  const [, year, month, day, time] = match;
  return `${time} ngày ${day}/${month}/${year}`;
}

// Decision 766's figures as the portal shows them, already rounded to 2 decimals by the API:
// 18.13 → "18,13"; a percentage 90.63 → "90,63 %".
export function formatScore(x) {
  if (x === null || x === undefined) return EMPTY;
  const [whole, fraction] = Math.abs(x).toFixed(2).split(".");
  const sign = x < 0 && Number(x.toFixed(2)) !== 0 ? MINUS : "";
  return `${sign}${groupThousands(whole)},${fraction}`;
}

export function formatPercent(percent) {
  if (percent === null || percent === undefined) return EMPTY;
  return `${formatScore(percent)}${NBSP}%`;
}

// A calendar period's name in Vietnamese: "2026-11" → "Tháng 11/2026", "2026-Q4" → "Quý 4/2026",
// "2026" → "Năm 2026"; anything else unchanged.
export function formatPeriod(period) {
  let match = /^(\d{4})-(\d{2})$/.exec(period);
  if (match) return `Tháng ${match[2]}/${match[1]}`;
  match = /^(\d{4})-Q([1-4])$/.exec(period);
  if (match) return `Quý ${match[2]}/${match[1]}`;
  return /^\d{4}$/.test(period) ? `Năm ${period}` : period;
}
