// The one-line error format every command uses.

/** `ublk-compress: <first line of the message>` with a newline; no stack. */
export function formatError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `ublk-compress: ${message.split('\n')[0]}\n`;
}
