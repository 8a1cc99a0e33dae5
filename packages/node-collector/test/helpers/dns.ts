// A tiny authoritative DNS server on loopback UDP for tests: answers A queries from a mutable table, so that the
// collector's headless-Service resolution runs against a real resolver (c-ares) over a real socket.
import { createSocket } from 'node:dgram';

interface DnsServer {
  address: string;
  set(name: string, ips: string[]): void;
  queries: number;
  close(): Promise<void>;
}

async function startDnsServer(): Promise<DnsServer> {
  const table = new Map<string, string[]>();
  const sock = createSocket('udp4');
  let queries = 0;
  sock.on('message', (msg, rinfo) => {
    queries++;
    let i = 12;
    const labels: string[] = [];
    while (i < msg.length && msg[i] !== 0) {
      const n = msg[i] ?? 0;
      labels.push(msg.subarray(i + 1, i + 1 + n).toString('ascii'));
      i += n + 1;
    }
    const qEnd = i + 5;
    const qtype = msg.readUInt16BE(i + 1);
    const name = labels.join('.').toLowerCase();
    const ips = qtype === 1 ? (table.get(name) ?? []) : [];
    const head = Buffer.alloc(12);
    head.writeUInt16BE(msg.readUInt16BE(0), 0);
    head.writeUInt16BE(table.has(name) ? 0x8580 : 0x8583, 2); // response, authoritative, RD/RA; NXDOMAIN when unknown
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(ips.length, 6);
    const answers = ips.map((ip) => {
      const a = Buffer.alloc(16);
      a.writeUInt16BE(0xc00c, 0);
      a.writeUInt16BE(1, 2);
      a.writeUInt16BE(1, 4);
      a.writeUInt32BE(1, 6);
      a.writeUInt16BE(4, 10);
      ip.split('.').forEach((o, k) => a.writeUInt8(Number(o), 12 + k));
      return a;
    });
    sock.send(Buffer.concat([head, msg.subarray(12, qEnd), ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = (sock.address()).port;
  return {
    address: `127.0.0.1:${port}`,
    set: (name, ips) => table.set(name.toLowerCase(), ips),
    get queries() {
      return queries;
    },
    close: () => new Promise((resolve) => sock.close(() => resolve())),
  };
}

export { startDnsServer };
