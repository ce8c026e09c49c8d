// The fio-like data of the in-process engine tools (engine-qd.mjs,
// engine-write-sizes.mjs): 4 KiB blocks 60% compressible (40% random words,
// then zeros), 30% of them repeats of earlier ones, from a fixed seed.
const B = 4096;

/** rnd(): the tools' deterministic generator in [0, 1); block(): the next block (a repeat may be shared). */
export function fioLikeBlocks(seed = 12345) {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const uniq = [];
  const block = () => {
    if (uniq.length > 0 && rnd() < 0.3) return uniq[Math.floor(rnd() * uniq.length)];
    const b = Buffer.alloc(B);
    for (let i = 0; i < B * 0.4; i += 4) b.writeUInt32LE((rnd() * 2 ** 32) >>> 0, i);
    if (uniq.length < 4096) uniq.push(b);
    return b;
  };
  return { rnd, block };
}
