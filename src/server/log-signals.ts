// The daemon's non-fatal signals. SIGUSR2 reopens the log file (after
// logrotate moved it: postrotate `systemctl kill -s USR2 ...` or `kill -USR2`).
// SIGHUP (a closed terminal, a careless `kill -HUP`) is logged and ignored:
// only SIGTERM/SIGINT, `del` or `down` may stop and delete a device.

import type { Logger } from 'pino';
import type { LogSink } from './log-destination.js';

/** Installs the handlers; returns a function that removes them. */
export function installLogSignals(log: Logger, sink: LogSink): () => void {
  const onUsr2 = (): void => {
    try {
      sink.reopen();
      log.info({ target: sink.target }, 'log reopened (SIGUSR2)');
    } catch (err) {
      log.error({ err, target: sink.target }, 'could not reopen the log; still writing to the old file');
    }
  };
  const onHup = (): void => {
    log.warn('SIGHUP ignored: the device keeps serving (stop it with del, down or SIGTERM)');
  };
  process.on('SIGUSR2', onUsr2);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGUSR2', onUsr2);
    process.off('SIGHUP', onHup);
  };
}
