// The node/V8 flags the serving daemon starts with (docs/packed.md, "The
// daemon's node flags"). V8 runs its garbage collector and its optimising
// compiler partly on worker threads. With several CPUs they work beside the
// main thread; confined to one CPU (`taskset`, a cpuset, a one-CPU machine)
// they only take turns with it, and every hand-off costs a wake-up and a
// context switch. So a daemon that may use one CPU only starts with
// ONE_CPU_FLAGS, which keep that work on the main thread; any other runs with
// node's defaults. UBLK_COMPRESS_DAEMON_NODE_ARGS comes after them: a later
// flag wins, so `--no-single-threaded-gc` undoes the default.
// These are V8 start-up flags: a running process cannot take them (setting GC
// flags with v8.setFlagsFromString() after start crashes V8's marker), so a
// foreground server gets them only from its own `node` command line.

import { availableParallelism } from 'node:os';

/** Measured in one guest boot against zram (docs/packed.md); see the file comment. */
export const ONE_CPU_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** CPUs this process may run on (its affinity mask); a spawned daemon inherits it. */
export function usableCpus(): number {
  return availableParallelism();
}

/**
 * Node flags for the daemon `add` and `recover` spawn: the defaults for the
 * CPUs it may use, then UBLK_COMPRESS_DAEMON_NODE_ARGS (whitespace separated).
 */
export function daemonNodeFlags(env: NodeJS.ProcessEnv = process.env, cpus: number = usableCpus()): string[] {
  const defaults = cpus <= 1 ? ONE_CPU_FLAGS : [];
  return [...defaults, ...daemonNodeArgs(env)];
}

/**
 * Node flags from UBLK_COMPRESS_DAEMON_NODE_ARGS, for measuring the daemon:
 * `--cpu-prof --cpu-prof-dir=DIR`, `--trace-gc`... are refused in
 * NODE_OPTIONS, and the daemon is not started by the user.
 */
export function daemonNodeArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.UBLK_COMPRESS_DAEMON_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
}
