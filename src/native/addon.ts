// Loads build/Release/ublk_native.node once and types its raw surface. Only
// the wrappers in this folder use it.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DirectMapStats, DirectPathStats, DirectRequestError, NativeError, PackedReadStats, UblkAbi } from './abi.js';

// ---------------------------------------------------------------- addon

export interface NativeIoRingHandle {
  read(fd: number, buf: Uint8Array, offsetBytes: number): Promise<number>;
  write(fd: number, buf: Uint8Array, offsetBytes: number, rwFlags: number): Promise<number>;
  fsync(fd: number, datasync: boolean): Promise<number>;
  fallocate(fd: number, mode: number, offsetBytes: number, lengthBytes: number): Promise<number>;
  discard(fd: number, offsetBytes: number, lengthBytes: number): Promise<number>;
  inflight(): number;
  close(): void;
}

export interface NativeCtrlHandle {
  command(
    name: string,
    devId: number,
    data0: number,
    payload: Record<string, unknown> | null,
  ): Promise<Record<string, unknown> | bigint | number>;
  close(): void;
  unref(): void;
}

export interface NativeQueueHandle {
  buffers: Buffer[];
  fetchAll(): void;
  commit(tag: number, result: number): void;
  tagState(tag: number): number;
  abortedCount(): number;
  close(): void;
  setDirect(
    fileFd: number,
    sizeBytes: number,
    onErrors: (errors: DirectRequestError[]) => void,
    inlineRw: boolean,
    map: NativeDirectMapHandle | undefined,
  ): void;
  directStats(): Omit<DirectPathStats, 'userCopies'> | null;
  userCopies(): number;
  setDirectSize(sizeBytes: number): void;
  setPackedRead(tables: NativePackedTablesHandle, poolFd: number, dataOffset: number, segmentBytes: number, inlineReads: boolean): void;
  packedReadStats(): PackedReadStats | null;
  setPackedWrite(writeApply: NativeWriteApplyHandle, onWrites: () => void): void;
  packedWriteStats(): { requests: number } | null;
}

export interface NativePackedTablesHandle {
  attach(kind: 0 | 1, keys: Uint32Array, values: Uint32Array, state: Uint8Array): void;
  attachMapped(bits: Uint8Array, blocks: number, complete: boolean): void;
  unmapped(lba: number): boolean;
  setResident(segment: number, buf: Buffer | undefined): void;
  setEnabled(enabled: boolean): void;
  started(): number;
  busyUpTo(barrier: number): boolean;
  inflight(): number;
  lookup(lba: number): [number, number, number, number, number] | null;
  beginForTest(): number;
  endForTest(seq: number): void;
}

export interface NativeDirectMapHandle {
  remap(): number;
  remapRange(offset: number, length: number): number;
  stats(): DirectMapStats;
  clear(): void;
}

export interface NativeFileLockHandle {
  readonly dev: number;
  readonly ino: number;
  readonly rdev: number;
  readonly isBlockDevice: boolean;
  release(): void;
  held(): boolean;
}

export interface NativeFileLockOptions {
  exclusive: boolean;
  create: boolean;
  mode: number;
  claimDevice: boolean;
}

/** native/write-apply.h: the apply step of coalesced one-block writes (src/engine/native-apply.ts). */
export interface NativeWriteApplyHandle {
  attachPending(layer: number, kind: number, keys?: Uint32Array, values?: Uint32Array, state?: Uint8Array): void;
  attachCache(unused: 0, kind: number, keys: Uint32Array, values: Uint32Array, state: Uint8Array): void;
  attachMapped(bits: Uint8Array, blocks: number, complete: boolean): void;
  attachSegments(liveBytes: Uint32Array, fillBytes: Uint32Array, state: Uint8Array, segmentBytes: number): void;
  setBatch(
    data: Uint8Array, lbas: Float64Array, blockOf: Uint32Array, count: number, fps: Uint8Array, fills: Uint8Array,
    indexed: Float64Array, slotOf: Uint32Array, sizes: Uint32Array, staging: Uint8Array, index: boolean, codecId: number,
    io: Float64Array, out: Uint32Array,
  ): void;
  apply(start: number, openBuf: Uint8Array | null): number;
  attachFastWrite(
    words: Float64Array, lbas: Float64Array, fps: Uint8Array, kinds: Uint8Array, out: Uint32Array, journalFd0: number, journalFd1: number,
  ): void;
  attachFilter(layers: Uint32Array[]): void;
  openGate(openBuf: Uint8Array | null): void;
  writeOne(lba: number, data: Uint8Array, record?: boolean): boolean;
}

export interface NativeModule {
  WriteApply: new () => NativeWriteApplyHandle;
  FileLock: new (path: string, options: NativeFileLockOptions) => NativeFileLockHandle;
  DirectMap: new (fileFd: number, devFd: number, jsFd: number) => NativeDirectMapHandle;
  PackedTables: new () => NativePackedTablesHandle;
  OpenGuard: new (path: string, map: NativeDirectMapHandle, onForeignOpen: (pids: number[]) => void) => { close(): void };
  IoRing: new (entries: number, cqEntries: number, flags: number) => NativeIoRingHandle;
  CtrlRing: new (path: string) => NativeCtrlHandle;
  UblkQueue: new (
    ring: NativeIoRingHandle,
    cdevFd: number,
    queueId: number,
    depth: number,
    maxIoBufBytes: number,
    ioctlEncode: boolean,
    batch: { tags: Uint16Array; ops: Uint8Array; opFlags: Uint32Array; startSectors: Float64Array; nrSectors: Uint32Array },
    onBatch: (count: number) => void,
    onAbort: () => void,
    onError: (err: NativeError) => void,
    zeroCopySlots: number,
  ) => NativeQueueHandle;
  packedReadProbe(
    tables: NativePackedTablesHandle,
    ring: NativeIoRingHandle,
    poolFd: number,
    dataOffset: number,
    segmentBytes: number,
    lba: number,
    blocks: number,
    out: Buffer,
    inlineReads: boolean,
  ): Promise<number | 'js'>;
  packedReadProbeClose(tables: NativePackedTablesHandle): boolean;
  fiemap(fd: number, sync: boolean): Float64Array;
  blkDiscard(fd: number, offsetBytes: number, lengthBytes: number): void;
  blockDeviceBytes(fd: number): number;
  encodeCtrlSqe(name: string, devId: number, data0: number, addr: number, len: number, legacy: boolean): Buffer;
  setIoFlusher(): void;
  abi(): UblkAbi;
  sdNotify(path: string, message: string): void;
}

function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    if (existsSync(path.join(dir, 'binding.gyp'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('ublk-compress: cannot find the package root (binding.gyp) above ' + import.meta.url);
}

let loaded: NativeModule | undefined;
export function native(): NativeModule {
  if (loaded) return loaded;
  const file = path.join(findPackageRoot(), 'build', 'Release', 'ublk_native.node');
  if (!existsSync(file)) {
    throw new Error(`ublk-compress: native addon missing (${file}); run npm run build:native`);
  }
  loaded = createRequire(import.meta.url)(file) as NativeModule;
  return loaded;
}

