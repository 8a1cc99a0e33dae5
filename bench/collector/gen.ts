// The generated container logs both collectors read. Every record's message starts with `<seed>:<i> ` so that the
// sink can tell which line of which file it is, and is exactly messageOf(seed, i), so that the sink can check it
// arrived byte for byte.
const PAD = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ';

/** CRI time prefix: 30 bytes, nanoseconds taken from the line number. */
function timestamp(i: number): string {
  return `2026-11-24T06:${String(Math.floor(i / 60000) % 60).padStart(2, '0')}:${String(Math.floor(i / 1000) % 60).padStart(2, '0')}.${String(i % 1e9).padStart(9, '0')}Z`;
}

/** The message of line i of file `seed`: 160 bytes, so that `<time> <stream> F <msg>\n` is about 200 bytes. */
export function messageOf(seed: number, i: number): string {
  return `${seed}:${i} level=info msg="request handled" path=/api/v1/items/${i % 997} ${PAD}${PAD}`.slice(0, 160);
}

/** CRI lines for records [from, to) of file `seed`; every 5th record is split into a P and an F line. */
export function criLines(seed: number, from: number, to: number): string {
  const parts: string[] = [];
  for (let i = from; i < to; i++) {
    const ts = timestamp(i);
    const stream = i % 3 === 0 ? 'stderr' : 'stdout';
    const msg = messageOf(seed, i);
    if (i % 5 === 0) parts.push(`${ts} ${stream} P ${msg.slice(0, 60)}\n${ts} ${stream} F ${msg.slice(60)}\n`);
    else parts.push(`${ts} ${stream} F ${msg}\n`);
  }
  return parts.join('');
}

export function generate(lines: number, seed: number): Buffer {
  return Buffer.from(criLines(seed, 0, lines));
}
