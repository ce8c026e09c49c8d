import { describe, expect, it } from 'vitest';
import { niceScale, renderBarChart } from '../../../bench/render/svg-bars.js';
import { markdownTable, textTable } from '../../../bench/render/table.js';

describe('bench rendering', () => {
  it('picks 1-2-5 axis steps that cover the maximum', () => {
    expect(niceScale(2.3)).toEqual({ top: 2.5, step: 0.5 });
    expect(niceScale(78.8)).toEqual({ top: 80, step: 20 });
    expect(niceScale(0)).toEqual({ top: 1, step: 0.2 });
  });

  it('draws one bar per finite value, scaled to the axis, and escapes labels', () => {
    const svg = renderBarChart({
      title: 'a < b',
      yLabel: 'ratio',
      categories: ['x', 'y'],
      series: [
        { name: 'ours', color: '#00f', values: [2, 4] },
        { name: 'model', color: '#f80', values: [1, NaN] },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('a &lt; b');
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="16" height="([\d.]+)"/g)];
    expect(bars.length).toBe(3);
    const heights = bars.map((m) => Number(m[2]));
    // Group x: ours 2, model 1; group y: ours 4. 4 is the axis top (260 px).
    expect(heights).toEqual([130, 65, 260]);
    expect(svg).toContain('n/a');
  });

  it('aligns numbers right in text and markdown tables', () => {
    const text = textTable(['name', 'v'], [['a', 1.5], ['bbb', 10]]);
    expect(text.split('\n')).toEqual(['name  v', '----  -----', 'a     1.500', 'bbb      10']);
    expect(markdownTable(['name', 'v'], [['a', 2]])).toBe('| name | v |\n| --- | ---: |\n| a | 2 |');
  });
});
