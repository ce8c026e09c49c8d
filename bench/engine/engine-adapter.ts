// The one place that knows BlockEngine's API: the benchmark drives the engine
// through this narrow interface (format/open, batch write/read, flush, close,
// counters), so an API change touches only this file.
export interface EngineCounters {
  /** Blocks the engine shared with an existing extent. */
  dedupBlocks: number | null;
  /** Blocks stored as a fill pattern, no data bytes. */
  sameFillBlocks: number | null;
  /** Everything stats() returned, for the JSON report. */
  raw: unknown;
}

export interface EngineUnderTest {
  /** Writes data (whole blocks) at `lba`. */
  write(lba: number, data: Buffer): Promise<void>;
  /** Reads out.length bytes (whole blocks) from `lba` into `out`. */
  read(lba: number, out: Buffer): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  counters(): EngineCounters;
}

export interface EngineFactory {
  format(p: { poolPath: string; metaDir: string; logicalBytes: number }): Promise<EngineUnderTest>;
  open(p: { poolPath: string; metaDir: string }): Promise<EngineUnderTest>;
}

/** Why the engine cannot be benchmarked (not built yet), or undefined. */
export async function engineUnavailableReason(): Promise<string | undefined> {
  return 'src/engine has not landed yet';
}

export async function openEngineFactory(): Promise<EngineFactory> {
  throw new Error('src/engine has not landed yet');
}
