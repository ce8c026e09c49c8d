// The shape report.json must have, checked field by field (no schema library):
// every device has every figure (no empty cells), every number is finite.
// Returns the problems found; an empty list means the report is whole.
import { DEVICES, WORKLOADS, devicesOf, type DeviceName } from './model.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Devices whose server runs outside fio's own kernel path (their CPU is measurable apart). */
export const SERVER_DEVICES: readonly DeviceName[] = ['packed', 'direct', 'vdo'];
export const RSS_DEVICES: readonly DeviceName[] = ['packed', 'direct'];

function need(problems: string[], where: string, o: Obj, fields: string[], positive = false): void {
  for (const f of fields) {
    if (!num(o[f])) problems.push(`${where}: ${f} is not a finite number (${JSON.stringify(o[f])})`);
    else if (positive && (o[f] as number) <= 0) problems.push(`${where}: ${f} is not positive (${String(o[f])})`);
  }
}

function spreadOk(problems: string[], where: string, v: unknown): void {
  if (!isObj(v)) problems.push(`${where}: missing`);
  else need(problems, where, v, ['mean', 'min', 'max'], true);
}

export function validateReport(r: unknown): string[] {
  const p: string[] = [];
  if (!isObj(r)) return ['report is not an object'];
  if (r.schema !== 'ublk-compress-bench/1') p.push(`schema is ${JSON.stringify(r.schema)}`);
  if (r.complete !== true) p.push(`run incomplete: ${String(r.incomplete)}`);
  for (const k of ['date', 'mode']) if (typeof r[k] !== 'string' || r[k] === '') p.push(`${k} missing`);
  if (!isObj(r.machine)) p.push('machine missing');
  if (!isObj(r.guest)) p.push('guest missing');
  else need(p, 'guest', r.guest, ['cpus', 'memBytes'], true);
  const devices = r.devices;
  if (!Array.isArray(devices) || DEVICES.some((d) => !devices.includes(d))) p.push(`devices must list ${DEVICES.join(', ')}`);
  const datasets = Array.isArray(r.datasets) ? (r.datasets as unknown[]) : [];
  if (datasets.length === 0) p.push('datasets missing');
  const space = Array.isArray(r.space) ? (r.space as unknown[]).filter(isObj) : [];
  const speed = Array.isArray(r.speed) ? (r.speed as unknown[]).filter(isObj) : [];
  const raw = Array.isArray(r.speedRaw) ? (r.speedRaw as unknown[]).filter(isObj) : [];
  const rounds = new Set(raw.map((x) => x.round));
  if (rounds.size < 2) p.push(`speed needs >= 2 rounds, found ${rounds.size}`);
  for (const d of DEVICES) {
    for (const ds of datasets) {
      if (!devicesOf(String(ds)).includes(d)) continue;
      const row = space.find((x) => x.device === d && x.dataset === ds);
      if (!row) p.push(`space ${d}/${String(ds)}: missing`);
      else {
        need(p, `space ${d}/${String(ds)}`, row, ['logicalBytes', 'ratio', 'seconds'], true);
        need(p, `space ${d}/${String(ds)}`, row, ['physicalBytes', 'dataBytes', 'dataRatio', 'vsZram', 'vsVdo', 'vsVdoData']);
      }
    }
    for (const w of WORKLOADS) {
      const where = `speed ${d}/${w}`;
      const row = speed.find((x) => x.device === d && x.workload === w);
      if (!row) {
        p.push(`${where}: missing`);
        continue;
      }
      for (const k of ['value', 'MBps', 'iops', 'vsZram', 'vsVdo']) spreadOk(p, `${where} ${k}`, row[k]);
      need(p, where, row, ['latUsP50', 'latUsP99', 'latUsP999'], true);
      for (const x of raw.filter((x) => x.device === d && x.workload === w)) {
        if (x.errors !== 0) p.push(`${where} round ${String(x.round)}: fio errors ${String(x.errors)}`);
      }
    }
    const cpu = Array.isArray(r.cpu) ? (r.cpu as unknown[]).filter(isObj).find((x) => x.device === d) : undefined;
    if (!cpu) p.push(`cpu ${d}: missing`);
    else {
      need(p, `cpu ${d}`, cpu, ['kernelCpuSPerGiB'], true);
      if (SERVER_DEVICES.includes(d)) need(p, `cpu ${d}`, cpu, ['serverCpuSPerGiB'], true);
    }
    if (RSS_DEVICES.includes(d) && !num(isObj(r.peakRssBytes) ? r.peakRssBytes[d] : undefined)) p.push(`peakRssBytes ${d}: missing`);
    const line = isObj(r.summary) ? r.summary[d] : undefined;
    if (typeof line !== 'string' || line.length < 10) p.push(`summary ${d}: missing`);
  }
  const parts = isObj(r.timings) && Array.isArray(r.timings.parts) ? (r.timings.parts as unknown[]).filter(isObj) : [];
  if (parts.length === 0) p.push('timings missing');
  for (const t of parts) need(p, `timings ${String(t.part)}`, t, ['seconds', 'setupS', 'teardownS']);
  if (!isObj(r.ceiling)) p.push('ceiling missing');
  else need(p, 'ceiling', r.ceiling, ['writeMBps', 'readMBps', 'deviceWriteMBps', 'deviceReadMBps', 'writeShare', 'readShare'], true);
  return p;
}
