// Runs the CLI in-process through main() and collects what it printed.
import { memoryIo } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';

export async function runMain(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join(''), err: io.stderr.join('') };
}
