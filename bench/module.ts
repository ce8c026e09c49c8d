// The contract between bench/main.ts and each benchmark module. A module is
// registered in bench/registry.ts under its name (`npm run bench -- <name>`).
export interface BenchModule {
  /** One line for the usage text. */
  readonly summary: string;
  /** Option help, printed by `npm run bench -- <name> --help`. */
  readonly usage: string;
  /** Why this machine cannot run the module now, or undefined when it can. */
  unavailableReason(): Promise<string | undefined>;
  /** Runs with the arguments after the name; resolves to the report files written. */
  run(args: readonly string[]): Promise<BenchOutcome>;
}

export interface BenchOutcome {
  /** Paths (relative to the repository root) of files written under bench/report/. */
  reportFiles: string[];
  /** One line per headline figure, for the combined report index. */
  headline: string[];
}
