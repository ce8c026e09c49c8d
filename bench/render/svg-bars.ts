// A small grouped bar chart as standalone SVG (no chart library): one group
// per category, one bar per series, a linear y axis from 0 with gridlines.
import assert from 'node:assert';

export interface BarSeries {
  name: string;
  color: string;
  values: number[];
}

export interface BarChart {
  title: string;
  yLabel: string;
  categories: string[];
  series: BarSeries[];
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" axis maximum and step: 1, 2 or 5 times a power of ten. */
export function niceScale(maxValue: number, ticksWanted = 5): { top: number; step: number } {
  const max = maxValue > 0 && Number.isFinite(maxValue) ? maxValue : 1;
  const rough = max / ticksWanted;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  return { top: Math.ceil(max / step) * step, step };
}

export function renderBarChart(chart: BarChart): string {
  const { categories, series } = chart;
  assert(series.every((s) => s.values.length === categories.length));
  const barW = 18;
  const groupGap = 22;
  const groupW = series.length * barW + groupGap;
  const left = 64;
  const top = 48;
  const plotH = 260;
  const bottom = 110;
  const width = left + Math.max(1, categories.length) * groupW + 150;
  const height = top + plotH + bottom;
  const finite = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const { top: yTop, step } = niceScale(Math.max(0, ...finite));
  const y = (v: number): number => top + plotH - (Math.min(v, yTop) / yTop) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${left}" y="24" font-size="15" font-weight="bold">${esc(chart.title)}</text>`);
  for (let v = 0; v <= yTop + 1e-9; v += step) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${left}" y1="${yy}" x2="${width - 150}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${yy}" text-anchor="end" dy="4">${+v.toFixed(6)}</text>`);
  }
  const midY = top + plotH / 2;
  out.push(`<text transform="translate(16 ${midY}) rotate(-90)" text-anchor="middle">` +
    `${esc(chart.yLabel)}</text>`);
  categories.forEach((cat, c) => {
    const gx = left + groupGap / 2 + c * groupW;
    series.forEach((s, k) => {
      const v = s.values[c];
      const x = gx + k * barW;
      if (!Number.isFinite(v)) {
        out.push(`<text x="${x + barW / 2}" y="${top + plotH - 4}" text-anchor="middle">n/a</text>`);
        return;
      }
      const yy = y(v);
      out.push(`<rect x="${x}" y="${yy.toFixed(1)}" width="${barW - 2}" ` +
        `height="${(top + plotH - yy).toFixed(1)}" fill="${s.color}"><title>${esc(s.name)} ` +
        `${esc(cat)}: ${v.toFixed(3)}</title></rect>`);
      out.push(`<text x="${x + barW / 2 - 1}" y="${(yy - 3).toFixed(1)}" text-anchor="middle" ` +
        `font-size="9">${v.toFixed(2)}</text>`);
    });
    const lx = gx + (series.length * barW) / 2;
    const ly = top + plotH + 12;
    out.push(`<text transform="translate(${lx} ${ly}) rotate(40)" text-anchor="start">` +
      `${esc(cat)}</text>`);
  });
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - 150}" y2="${top + plotH}" stroke="#333"/>`);
  series.forEach((s, k) => {
    const ly = top + 10 + k * 18;
    out.push(`<rect x="${width - 140}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${width - 122}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
