/** Test model files for lib/sync: `n` reproducible pseudo-random bytes (a linear congruential sequence from `seed`). */
export function modelBytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
