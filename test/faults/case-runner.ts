// Parent side of the case worker: compiles it (tsc, into dist/faults), runs cases
// in it one at a time, and turns a worker that dies or hangs into a failed case
// (then starts a fresh worker for the next one).
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaultCase } from './fault-plan.js';
import type { CaseContext, CaseResult } from './run-case.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const WORKER_JS = path.join(REPO, 'dist/faults/test/faults/case-worker.js');
/** Longer than every bounded step inside the worker put together. */
const CASE_TIMEOUT_MS = 90_000;
const STDERR_KEPT = 1500;

/** tsc's exit status when it found type errors but wrote the output anyway. */
const TSC_EMITTED_WITH_ERRORS = 2;

export function compileWorker(): void {
  try {
    execFileSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', path.join(HERE, 'tsconfig.json')], {
      cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { status?: number; stdout?: Buffer };
    // Type errors are `npm run typecheck`'s to report; the campaign still runs the emitted code.
    if (e.status !== TSC_EMITTED_WITH_ERRORS) throw err;
    console.warn(`fault campaign: the worker compiled with type errors:\n${e.stdout?.toString() ?? ''}`);
  }
}

export class CaseRunner {
  private child: ChildProcess | undefined;
  private stderr = '';
  restarts = 0;

  constructor(private readonly context: CaseContext) {}

  private start(): ChildProcess {
    const child = fork(WORKER_JS, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-STDERR_KEPT);
    });
    child.send({ context: this.context });
    this.child = child;
    return child;
  }

  run(c: FaultCase, dir: string): Promise<CaseResult> {
    const child = this.child ?? this.start();
    this.stderr = '';
    let phase = 'start';
    return new Promise((resolve) => {
      const done = (r: CaseResult): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(r);
      };
      const lost = (why: string): CaseResult => {
        this.child = undefined;
        this.restarts += 1;
        return { outcome: 'FAILED', eioBlocks: 0, checkExit: -1, failures: [`${why}; stderr: ${this.stderr.trim().split('\n').slice(-4).join(' | ')}`] };
      };
      const onMessage = (m: { index: number; phase?: string; result?: CaseResult }): void => {
        if (m.index !== c.index) return;
        if (m.phase !== undefined) phase = m.phase;
        if (m.result !== undefined) done(m.result);
      };
      const onExit = (code: number | null, signal: string | null): void => {
        done(lost(`[process-died] the process running the case died during ${phase} (exit ${code}, signal ${signal})`));
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        done(lost(`[HANG] no result in ${CASE_TIMEOUT_MS} ms (during ${phase})`));
      }, CASE_TIMEOUT_MS);
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ run: c, dir });
    });
  }

  close(): void {
    this.child?.kill();
    this.child = undefined;
  }
}
