// Little-endian unsigned integers of the compressed formats' headers (zstd frames, gzip members).

/** The `n`-byte (n ≤ 6) little-endian unsigned integer at `at`. */
function readLE(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (buf[at + i] as number);
  return v;
}

export { readLE };
