// Charts: uPlot (the one vendored charting library, a global loaded before the modules) for
// the daily bars, inline SVG for the sparklines. Every chart is an image with a text label,
// next to a table that holds its numbers.

import { el } from './panel.js';

/** The cost dimensions, in stacking order, with colours that pass 3:1 against white. */
export const DIMENSIONS = [
  { id: 'capacity', label: 'Capacity', color: '#1f5fa8' },
  { id: 'data_in', label: 'Data in', color: '#b35c00' },
  { id: 'data_out', label: 'Data out', color: '#1b7f4c' },
  { id: 'data_internode', label: 'Data internode', color: '#a23b72' },
  { id: 'storage_bytes', label: 'Snapshot storage', color: '#5a4fcf' },
  { id: 'storage_api', label: 'Snapshot API', color: '#6b6b6b' },
];

/** A dimension by its upstream id (`capacity`, `DATA_OUT`, ...); unknown ones get a neutral look. */
export function dimension(id) {
  const key = String(id).toLowerCase();
  return DIMENSIONS.find((d) => d.id === key) ?? { id: key, label: String(id), color: '#8a6d00', other: true };
}

/** A legend for the dimensions shown. */
export function legend(dimensions) {
  return el(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    dimensions.map((d) => el('li', { class: d.other ? 'dim-other' : `dim-${d.id}` }, d.label)),
  );
}

const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

/** Unix seconds of an ISO date's UTC midnight. */
function seconds(isoDate) {
  return Date.parse(`${isoDate.slice(0, 10)}T00:00:00Z`) / 1000;
}

/**
 * Daily bars in `container`: `series` is `[{ label, color, values }]`, one value per day of
 * `days`, stacked bottom to top in order. uPlot does not stack, so each bar is drawn as its
 * running total, tallest first, the lower ones over it.
 */
export function dailyBars(container, days, series, { height = 240, unit = 'ECU' } = {}) {
  const uPlot = globalThis.uPlot;
  if (!uPlot) throw new Error('the chart library did not load');
  const running = [];
  series.forEach((s, k) => running.push(s.values.map((v, i) => (k ? running[k - 1][i] : 0) + (v ?? 0))));
  const order = series.map((_, k) => k).reverse();
  const bars = uPlot.paths.bars({ size: [0.75, 48], gap: 1 });
  const options = {
    height,
    width: Math.max(container.clientWidth, 300),
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] } },
    axes: [
      { stroke: '#57606a', grid: { show: false }, ticks: { stroke: '#d0d7de' } },
      {
        stroke: '#57606a',
        size: 64,
        label: unit,
        labelSize: 18,
        grid: { stroke: '#eaeef2' },
        ticks: { stroke: '#d0d7de' },
        values: (_u, ticks) => ticks.map((t) => compact.format(t)),
      },
    ],
    series: [{}, ...order.map((k) => ({ label: series[k].label, fill: series[k].color, stroke: series[k].color, width: 0, paths: bars, points: { show: false } }))],
  };
  const data = [days.map(seconds), ...order.map((k) => running[k])];
  const chart = new uPlot(options, data, container);
  // Follows the container's width; stops when the chart has been replaced.
  const observer = new ResizeObserver(() => {
    if (!container.isConnected) {
      observer.disconnect();
      chart.destroy();
      return;
    }
    const width = container.clientWidth;
    if (width > 0 && width !== chart.width) requestAnimationFrame(() => chart.setSize({ width, height }));
  });
  observer.observe(container);
  return chart;
}

const SVG = 'http://www.w3.org/2000/svg';

/**
 * A sparkline of `values`, labelled for screen readers. Its floor is the lowest value, but at
 * most 10% below the highest, so a steady cost draws a steady line rather than magnified noise.
 */
export function sparkline(values, label, { width = 120, height = 28 } = {}) {
  const svg = document.createElementNS(SVG, 'svg');
  for (const [name, value] of Object.entries({ viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label, class: 'spark' })) {
    svg.setAttribute(name, String(value));
  }
  const max = Math.max(0, ...values);
  const floor = Math.max(0, Math.min(Math.min(...values), max * 0.9));
  const span = max - floor || 1;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute(
    'points',
    values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (((v ?? 0) - floor) / span) * (height - 4)).toFixed(1)}`).join(' '),
  );
  svg.append(line);
  return svg;
}
