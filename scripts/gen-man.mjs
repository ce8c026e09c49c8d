// Writes docs/ublk-compress.8 from the built CLI's tables (run after build:ts):
//   node scripts/gen-man.mjs
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { manPageText } from '../dist/src/cli/man-source.js';

const out = fileURLToPath(new URL('../docs/ublk-compress.8', import.meta.url));
writeFileSync(out, await manPageText());
console.log(`wrote ${out}`);
