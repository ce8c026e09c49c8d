// One "the backing filesystem is full" episode per device, shared by the JS
// target's log (logged-target.ts) and the native path's (direct-native.ts):
// a filesystem on the device may retry thousands of writes, and each log
// line is a synchronous write on the serving thread, often to the same full
// filesystem. The first ENOSPC failure of an episode is logged; the episode
// ends when a write succeeds on either path.

export const NO_SPACE_NOTE = 'further ENOSPC failures are not logged until a write succeeds';

export class NoSpaceEpisode {
  private quiet = false;
  /** Native writes completed when last looked at (the native path reports no successes). */
  private nativeWritesSeen = 0;

  /** An ENOSPC failure: true when it is the first of its episode (log it). */
  failed(): boolean {
    if (this.quiet) return false;
    this.quiet = true;
    return true;
  }

  /** A write succeeded: the next ENOSPC failure starts a new episode. */
  wrote(): void {
    this.quiet = false;
  }

  /** The native path's count of completed writes: a rise since last time ends the episode. */
  nativeWrites(count: number): void {
    if (count > this.nativeWritesSeen) this.wrote();
    this.nativeWritesSeen = count;
  }
}
