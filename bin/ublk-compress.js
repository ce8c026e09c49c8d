#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm run build`.
// process.exit() once main() resolves: a control command left in flight by a
// timed-out wait must not keep the process alive (stdout/stderr writes to
// files and pipes are synchronous on Linux, so nothing is lost).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`ublk-compress: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
