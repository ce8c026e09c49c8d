// Size of a ring shared by ublk queues and backing-file I/O.

const MIN_ENTRIES = 64;
const MAX_ENTRIES = 4096;

/** Every tag's command plus one backing-file operation per request, as a power of two. */
export function ringEntriesFor(queues: number, depth: number): number {
  let n = MIN_ENTRIES;
  while (n < 2 * queues * depth && n < MAX_ENTRIES) n *= 2;
  return n;
}
