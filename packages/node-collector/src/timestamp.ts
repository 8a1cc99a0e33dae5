// RFC 3339 with up to nanosecond fractions, parsed by hand into bigint nanoseconds: Date keeps only
// milliseconds, and CRI/docker timestamps carry nanoseconds (LESSONS.md "Parsing").

const NS_PER_S = 1_000_000_000n;

function digits(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = (b[i] ?? 0) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Parses `YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|±HH:MM)` from `b[start, end)`.
 * Returns nanoseconds since the epoch, or undefined when the text is not such a timestamp.
 */
function parseRfc3339Nano(b: Uint8Array, start: number, end: number): bigint | undefined {
  if (end - start < 20) return undefined;
  const y = digits(b, start, 4);
  const mo = digits(b, start + 5, 2);
  const d = digits(b, start + 8, 2);
  const h = digits(b, start + 11, 2);
  const mi = digits(b, start + 14, 2);
  const s = digits(b, start + 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) return undefined;
  if (b[start + 4] !== 45 || b[start + 7] !== 45 || b[start + 13] !== 58 || b[start + 16] !== 58) return undefined;
  const t = b[start + 10];
  if (t !== 84 && t !== 116 && t !== 32) return undefined; // 'T', 't' or ' '
  let i = start + 19;
  let frac = 0;
  if (b[i] === 46) {
    i++;
    let n = 0;
    while (i < end) {
      const c = (b[i] ?? 0) - 48;
      if (c < 0 || c > 9) break;
      if (n < 9) frac = frac * 10 + c;
      n++;
      i++;
    }
    if (n === 0) return undefined;
    for (let k = n; k < 9; k++) frac *= 10;
  }
  let offsetS = 0;
  const z = b[i];
  if (z === 90 || z === 122) {
    i++;
  } else if (z === 43 || z === 45) {
    const oh = digits(b, i + 1, 2);
    const om = digits(b, i + 4, 2);
    if (oh < 0 || om < 0 || b[i + 3] !== 58) return undefined;
    offsetS = (oh * 3600 + om * 60) * (z === 43 ? 1 : -1);
    i += 6;
  } else {
    return undefined;
  }
  if (i !== end) return undefined;
  const secs = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offsetS;
  return BigInt(secs) * NS_PER_S + BigInt(frac);
}

export { parseRfc3339Nano };
