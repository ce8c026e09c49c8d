// `--stats-group GROUP`: a group name (from /etc/group) or a numeric gid.
// Node has no getgrnam(3); /etc/group is what it reads for local groups.

import { readFileSync } from 'node:fs';
import { UcError } from '../util/errors.js';

/** The gid `group` names; UC_INVALID_ARGUMENT when no such group exists. */
export function groupId(group: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(group)) {
    const gid = Number(group);
    if (Number.isSafeInteger(gid) && gid <= 0xfffffffe) return gid;
  }
  let text = '';
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    // no group file: only numeric gids work
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && /^\d+$/.test(gid ?? '')) return Number(gid);
  }
  throw new UcError('UC_INVALID_ARGUMENT', `--stats-group ${group}: no such group (a name in ${groupFile}, or a gid)`);
}
