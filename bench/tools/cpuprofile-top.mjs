// node bench/tools/cpuprofile-top.mjs FILE.cpuprofile [N] [FROM_S TO_S]
// Self time of a V8 CPU profile (--cpu-prof): the split idle / GC / program /
// JS, then the N (20) functions with most self time, and the callers of the
// top native frames. FROM_S..TO_S limits the samples to that window (seconds
// from the profile's start).
import { readFileSync } from 'node:fs';

const [file, nArg, fromArg, toArg] = process.argv.slice(2);
const top = Number(nArg ?? 20);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const from = fromArg === undefined ? -Infinity : Number(fromArg) * 1e6;
const to = toArg === undefined ? Infinity : Number(toArg) * 1e6;
const self = new Map();
let t = 0;
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i] ?? 0;
  t += dt;
  if (t < from || t > to) continue;
  self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  total += dt;
}
const name = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
const fnSelf = new Map();
const split = { idle: 0, gc: 0, program: 0, js: 0, native: 0 };
for (const [id, us] of self) {
  const n = byId.get(id);
  const fn = n.callFrame.functionName;
  if (fn === '(idle)') split.idle += us;
  else if (fn === '(garbage collector)') split.gc += us;
  else if (fn === '(program)') split.program += us;
  else if (n.callFrame.url === '' || n.callFrame.url.startsWith('node:')) split.native += us;
  else split.js += us;
  const k = name(n);
  fnSelf.set(k, (fnSelf.get(k) ?? 0) + us);
}
const pct = (us) => ((100 * us) / total).toFixed(1) + '%';
console.log(`samples over ${(total / 1e6).toFixed(2)} s`);
console.log(`idle ${pct(split.idle)}  gc ${pct(split.gc)}  program ${pct(split.program)}  js(project+deps) ${pct(split.js)}  node/native ${pct(split.native)}`);
const rows = [...fnSelf].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [k, us] of rows) console.log(`${pct(us).padStart(6)}  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${k}`);
// Callers (two frames up) of the heaviest non-JS frames, to attribute native time.
console.log('\ncallers of the top native/builtin frames:');
const callers = new Map();
for (const [id, us] of self) {
  const n = byId.get(id);
  if (n.callFrame.url !== '' && !n.callFrame.url.startsWith('node:')) continue;
  if (n.callFrame.functionName.startsWith('(')) continue;
  let chain = name(n);
  let up = parent.get(id);
  for (let d = 0; d < 3 && up !== undefined; d++) {
    chain += ' <- ' + name(byId.get(up));
    up = parent.get(up);
  }
  callers.set(chain, (callers.get(chain) ?? 0) + us);
}
for (const [k, us] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us).padStart(6)}  ${k}`);
