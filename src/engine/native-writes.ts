// One-block writes applied in the addon (native/fast-write.h), by the queue
// without a JavaScript call per request, or by engine.write. The addon applies
// a new unique block the way native-apply.ts does, but outside any exclusive
// section, so ownership of the write state alternates:
//   - while no exclusive section is held or queued, the gate is open: the
//     addon owns the counters in `words` (next extent id, extent and mapped
//     counts, the open segment's fill, the journal's position) and appends
//     to the open segment, the overlay tables and the active journal file;
//   - an exclusive section closes the gate first and takes what the addon
//     did (take()); when the last one ends, open() hands the state back.
// JavaScript also takes the addon's work before anything else runs after a
// queue wake-up (engine.nativeWritesDone), so its view (counts, the dedup
// filter, the touched bits, dirty and freed segments) is current whenever
// it runs. The addon only fills the open segment (never takes a free one), and
// a budget of blocks between two takes keeps the overlay tables' room
// (reserved at each) enough without asking JavaScript.
import type { NativeWriteDeclines } from './types.js';
import type { WriteJournal } from './write-journal.js';
import { giveApplied, IO_COUNTS_FROM, IO_WORDS, takeApplied, type ApplyParts } from './native-apply.js';

/** The shared words (native/fast-write.h FastWord). */
/** The shared words; from RUN, the apply step's io words (native-apply.ts IO_*). */
const FW = {
  GATE: 0, BUDGET: 1, RUN: 2, BLOCKS: 2 + IO_WORDS, FILTER_COMPLETE: 15, INDEX: 16, CODEC: 17, JOURNAL: 18, J_ACTIVE: 19, J_SEQ: 20,
  J_USED: 21, J_CAPACITY: 22, J_FAILED_AT: 23, J_ERRNO: 24, VERIFY: 25, DEDUP_HITS: 26, DECLINED: 27, WORDS: 34,
} as const;

/** The addon's decline counters from FW.DECLINED, in order (fast-write.h kFwDeclined*). */
const DECLINE_REASONS = ['closed', 'journal', 'fill', 'filter', 'dup', 'plan', 'record'] as const;

/** Blocks the addon may apply between two takes. */
export const NATIVE_WRITE_BUDGET = 256;

/** The addon's side (WriteApply's one-block write methods). */
export interface FastWriteHandle {
  attachFastWrite(
    words: Float64Array, lbas: Float64Array, fps: Uint8Array, kinds: Uint8Array, out: Uint32Array, journalFd0: number, journalFd1: number,
  ): void;
  attachFilter(layers: Uint32Array[]): void;
  openGate(openBuf: Uint8Array | null): void;
  /** `record`: the addon writes the journal record too (the queue's way). */
  writeOne(lba: number, data: Uint8Array, record?: boolean): boolean;
}

export interface FastWriteParts extends ApplyParts {
  readonly journal: WriteJournal | undefined;
  /** The free segments allow a write of `blocks` (as a JavaScript write checks). */
  hasSpace(blocks: number): boolean;
  /** Mutations may run now (not stalled, broken, or reopening the store). */
  writable(): boolean;
  /** A dedup hit is shared only after the byte compare (dedup=verify). */
  readonly verify: boolean;
}

export class NativeWrites {
  private readonly words = new Float64Array(FW.WORDS);
  /** The io words within them (what a run of the apply step reads and brings back). */
  private readonly run = this.words.subarray(FW.RUN, FW.RUN + IO_WORDS);
  private readonly lbas = new Float64Array(NATIVE_WRITE_BUDGET);
  private readonly fps = new Uint8Array(NATIVE_WRITE_BUDGET * 16);
  /** 1: the block became a new extent; 0: it shared one (a dedup hit). */
  private readonly kinds = new Uint8Array(NATIVE_WRITE_BUDGET);
  private readonly out = new Uint32Array(2 * NATIVE_WRITE_BUDGET);
  /** Blocks applied by this path since open. */
  applied = 0;
  /** The queues offer one-block writes to the addon themselves: engine.write does not again. */
  servedByQueues = false;
  /** Times the gate closed, and for how long in all (ms), since open. */
  private closures = 0;
  private closedMs = 0;
  private closedAt = performance.now();
  /** Writes waiting for the gate to reopen (reopened()). */
  private waiters: Array<() => void> = [];

  constructor(
    private readonly handle: FastWriteHandle,
    private readonly p: FastWriteParts,
  ) {
    const [fd0, fd1] = p.journal?.fds() ?? [-1, -1];
    this.words[FW.J_FAILED_AT] = -1;
    handle.attachFastWrite(this.words, this.lbas, this.fps, this.kinds, this.out, fd0, fd1);
    p.filter.share((layers) => handle.attachFilter(layers));
    p.journal?.whenIdle(() => this.journalIdle());
  }

  get isOpen(): boolean {
    return this.words[FW.GATE] === 1;
  }

  /** Before an exclusive section: the addon stops, and its work is taken. */
  close(): void {
    if (this.isOpen) {
      this.closures += 1;
      this.closedAt = performance.now();
    }
    this.words[FW.GATE] = 0;
    this.take();
  }

  /** One-block writes the addon left to JavaScript, by reason, and the gate's closed time. */
  declines(): NativeWriteDeclines {
    const out: Record<string, number> = {};
    DECLINE_REASONS.forEach((r, i) => (out[r] = this.words[FW.DECLINED + i]));
    const closedNow = this.isOpen ? 0 : performance.now() - this.closedAt;
    return { ...(out as Record<(typeof DECLINE_REASONS)[number], number>), gateClosures: this.closures, gateClosedMs: Math.round(this.closedMs + closedNow) };
  }

  /** No exclusive section is held or queued: hands the write state to the addon
   * and opens the gate, when a segment is open and writes may run. */
  open(): void {
    try {
      this.openGate();
    } finally {
      this.wakeWaiters();
    }
  }

  /** Resolves once the exclusive sections held or queued now have ended and the gate
   * was opened again if it could be (or the engine closed). */
  reopened(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The engine closed: nothing reopens the gate. */
  wakeWaiters(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  private openGate(): void {
    const p = this.p;
    const w = this.words;
    this.take();
    if (this.isOpen) return;
    const seg = p.writer.openForNative();
    if (seg === undefined || !p.writable() || !p.hasSpace(1)) return;
    p.attachSegments();
    this.refill();
    giveApplied(p, this.run, seg);
    w[FW.FILTER_COMPLETE] = p.filter.complete ? 1 : 0;
    w[FW.INDEX] = p.index ? 1 : 0;
    w[FW.VERIFY] = p.verify ? 1 : 0;
    w[FW.CODEC] = p.codecId;
    this.pushJournal();
    this.handle.openGate(seg.buf);
    this.closedMs += performance.now() - this.closedAt;
  }

  /**
   * engine.write's path for a one-block write: applied in the addon if it can,
   * its work taken, then `record` (the caller's journal append) runs and the
   * addon learns the journal's new position. undefined: nothing was done.
   */
  writeOne<T>(lba: number, buf: Buffer, record: (hash: Buffer) => T): T | undefined {
    if (!this.isOpen || this.servedByQueues || (this.p.journal !== undefined && !this.p.journal.fits(buf.length))) return undefined;
    const k = this.words[FW.BLOCKS];
    if (!this.handle.writeOne(lba, buf)) return undefined;
    const hash = Buffer.from(this.fps.subarray(k * 16, k * 16 + 16));
    this.take();
    const r = record(hash);
    this.pushJournal();
    return r;
  }

  /** A one-block write that waited for the gate (reopened()), applied as the queue
   * applies one: the addon writes its journal record too. Taken at once; false:
   * not applied (JavaScript's path serves it). */
  writeWaited(lba: number, buf: Buffer): boolean {
    if (!this.isOpen || !this.handle.writeOne(lba, buf, true)) return false;
    this.take();
    return true;
  }

  /** Brings JavaScript's view up to date with the addon's work since the last take;
   * returns how many blocks it applied. Safe at any time on the main thread. */
  take(): number {
    const w = this.words;
    const p = this.p;
    const n = w[FW.BLOCKS];
    if (n > 0) {
      takeApplied(p, this.run, this.out);
      for (let k = 0; k < n; k++) {
        p.mapped.set(this.lbas[k]); // its `touched` bit (the addon set the mapped one)
        if (p.index && this.kinds[k] === 1) p.filter.addAt(this.fps, k * 16);
      }
      p.count('dedupHits', w[FW.DEDUP_HITS]);
      p.count('blocksWritten', n);
      p.journal?.nativeAppended(w[FW.J_SEQ], w[FW.J_USED]);
      w[FW.BLOCKS] = 0;
      w[FW.DEDUP_HITS] = 0;
      this.run.fill(0, IO_COUNTS_FROM);
      this.applied += n;
      // The overlay tables make room for another budget (they may move: the addon is told).
      if (this.isOpen) this.refill();
    }
    if (w[FW.J_FAILED_AT] >= 0) {
      p.journal?.nativeFailed(w[FW.J_FAILED_AT]);
      w[FW.J_FAILED_AT] = -1;
    }
    return n;
  }

  /** Room in the overlay tables for a budget of blocks, and the budget. */
  private refill(): void {
    this.p.view.reserve(NATIVE_WRITE_BUDGET);
    this.words[FW.BUDGET] = NATIVE_WRITE_BUDGET;
  }

  /** The journal's position and whether the addon may append to it itself. */
  private pushJournal(): void {
    const w = this.words;
    const j = this.p.journal;
    if (j === undefined) {
      w[FW.JOURNAL] = 0;
      return;
    }
    const st = j.nativeState();
    w[FW.JOURNAL] = st.ready ? 1 : 2;
    w[FW.J_ACTIVE] = st.active;
    w[FW.J_SEQ] = st.seq;
    w[FW.J_USED] = st.used;
    w[FW.J_CAPACITY] = st.capacity;
  }

  /** The journal's last append in flight settled: the addon may append again. */
  private journalIdle(): void {
    if (!this.isOpen) return;
    this.take();
    this.pushJournal();
  }
}
