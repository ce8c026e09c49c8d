// The campaign's summary: cases per fault kind x outcome, as a markdown table.
import type { FaultKind } from './fault-plan.js';
import { failureTag, type CaseResult, type Outcome } from './run-case.js';

const OUTCOMES: readonly Outcome[] = ['refused', 'eio', 'intact', 'FAILED'];

export function renderTable(rows: ReadonlyArray<[FaultKind, CaseResult]>): string {
  const kinds = [...new Set(rows.map(([k]) => k))];
  const lines = [
    `| fault kind | cases | ${OUTCOMES.join(' | ')} | refusal codes | failure causes (cases) |`,
    `|---|---:|${OUTCOMES.map(() => '---:').join('|')}|---|---|`,
  ];
  const total = new Map<Outcome, number>();
  for (const k of kinds) {
    const mine = rows.filter(([kind]) => kind === k).map(([, r]) => r);
    const counts = OUTCOMES.map((o) => mine.filter((r) => r.outcome === o).length);
    OUTCOMES.forEach((o, i) => total.set(o, (total.get(o) ?? 0) + counts[i]));
    const codes = new Map<string, number>();
    for (const r of mine) if (r.code !== undefined) codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
    const causes = new Map<string, number>();
    for (const r of mine) for (const t of new Set(r.failures.map(failureTag))) causes.set(t, (causes.get(t) ?? 0) + 1);
    const text = (m: Map<string, number>): string => [...m].map(([c, n]) => `${c} ${n}`).join(', ');
    lines.push(`| ${k} | ${mine.length} | ${counts.join(' | ')} | ${text(codes)} | ${text(causes)} |`);
  }
  const eio = rows.reduce((n, [, r]) => n + r.eioBlocks, 0);
  const same = rows.reduce((n, [, r]) => n + (r.damagedCorrect ?? 0), 0);
  lines.push(`| **all** | ${rows.length} | ${OUTCOMES.map((o) => total.get(o) ?? 0).join(' | ')} | | |`);
  lines.push('', `Damaged blocks read: ${eio} EIO, ${same} exactly right (a flip that decodes to the same bytes).`);
  return lines.join('\n');
}
