// The CLI side of serving in this process (`add --foreground`, `recover
// --foreground`, and the daemon `add` spawns, which is the same command with
// --ready-fd): runs the server's lifecycle and turns how it ended into the
// exit status. A failed start was already reported on the ready channel;
// only a plain foreground run prints it.

import { serve } from '../server/serve.js';
import type { AddConfig } from '../server/config.js';
import type { ServeTarget } from '../server/serve-target.js';
import { toUserError } from '../server/user-error.js';
import { EXIT_OK, exitCodeOf } from './exit-codes.js';
import { formatError } from './format-error.js';
import type { CliIo } from './io.js';

export async function serveHere(cfg: AddConfig, target: ServeTarget, io: CliIo): Promise<number> {
  try {
    const { shutdownError } = await serve(cfg, target, io);
    return shutdownError === undefined ? EXIT_OK : exitCodeOf(shutdownError);
  } catch (err) {
    if (cfg.readyFd === undefined) io.err(formatError(toUserError(err)));
    return exitCodeOf(err);
  }
}
