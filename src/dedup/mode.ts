// Dedup modes: 'off' never shares, 'on' shares on a fingerprint match, 'verify'
// (default) also byte-compares the stored block before sharing (docs/design.md, rule 5).
import { UcError } from '../util/errors.js';

export type DedupMode = 'off' | 'on' | 'verify';

export function parseDedupMode(text: string): DedupMode {
  if (text === 'off' || text === 'on' || text === 'verify') return text;
  throw new UcError('UC_INVALID_ARGUMENT', `unknown dedup mode '${text}' (off|on|verify)`);
}
