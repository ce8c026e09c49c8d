// The inputs of ublk-compress(8): every command module (loaded), the
// top-level options and the package version.

import { COMMANDS } from './commands/index.js';
import { TOP_OPTIONS } from './main.js';
import { renderManPage } from './render/man-page.js';
import { packageVersion } from '../server/version.js';

export async function manPageText(): Promise<string> {
  const commands = await Promise.all(COMMANDS.map((c) => c.load()));
  return renderManPage({ version: packageVersion(), commands, topOptions: TOP_OPTIONS });
}
