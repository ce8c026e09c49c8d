// Plain-text and markdown tables for benchmark output.
export type Cell = string | number;

function text(cell: Cell): string {
  return typeof cell === 'number' ? formatNumber(cell) : cell;
}

/** Up to 3 significant decimals, no exponent for ordinary magnitudes. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'n/a' : 'inf';
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 1 : abs >= 10 ? 2 : 3;
  return value.toFixed(digits);
}

/** Fixed-width columns; numbers right-aligned. */
export function textTable(header: string[], rows: Cell[][]): string {
  const cells = [header, ...rows.map((r) => r.map(text))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[], raw: Cell[] | undefined): string =>
    r
      .map((v, c) => (typeof raw?.[c] === 'number' ? v.padStart(widths[c]) : v.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const out = [line(cells[0], undefined), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((r, i) => out.push(line(cells[i + 1], r)));
  return out.join('\n');
}

export function markdownTable(header: string[], rows: Cell[][]): string {
  const align = (r: Cell[] | undefined, c: number): string =>
    typeof r?.[c] === 'number' ? '---:' : '---';
  const out = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, c) => align(rows[0], c)).join(' | ')} |`,
  ];
  for (const r of rows) out.push(`| ${r.map(text).join(' | ')} |`);
  return out.join('\n');
}
