// A stand-in for systemd's notification socket (python3: Node cannot bind a
// unix datagram socket).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const RECEIVER = fileURLToPath(new URL('./notify-receiver.py', import.meta.url));

/** Starts a receiver for `count` datagrams on `address` (a path or @abstract); resolves once bound. */
export async function notifyReceiver(address: string, count: number): Promise<{ messages: Promise<string[]>; child: ChildProcessWithoutNullStreams }> {
  const child = spawn('python3', [RECEIVER, address, String(count)]);
  const lines = createInterface({ input: child.stdout });
  const it = lines[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.value !== 'bound') throw new Error(`notify receiver did not start: ${String(first.value)}`);
  const messages = (async () => {
    const out: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) out.push(JSON.parse(r.value) as string);
    return out;
  })();
  return { messages, child };
}
