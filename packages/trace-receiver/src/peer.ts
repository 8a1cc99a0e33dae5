// The client address a request came from, taken when the request is received (never after
// batching; see LESSONS.md "Traces", OTC#29630), and the optional trusted-proxy header.
import { BlockList, isIP } from 'node:net';
import { TraceReceiverError } from './errors.ts';

/** `::ffff:10.1.2.3` → `10.1.2.3`; brackets and zone ids are removed; anything else unchanged. */
function normalizeAddress(address: string): string {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  const lower = a.toLowerCase();
  if (lower.startsWith('::ffff:') && isIP(a.slice(7)) === 4) return a.slice(7);
  return a;
}

/**
 * The address part of grpc-js `call.getPeer()`, which is `<remoteAddress>:<remotePort>` with
 * IPv6 addresses unbracketed (e.g. `::ffff:127.0.0.5:40312`), or `unknown`.
 */
// Every call on a connection has the same peer string; parsing it (net.isIP is a large regex)
// once per connection instead of once per call shows in the benchmark profile.
const peerCache = new Map<string, string | undefined>();

function addressOfGrpcPeer(peer: string): string | undefined {
  if (peerCache.has(peer)) return peerCache.get(peer);
  const address = parseGrpcPeer(peer);
  if (peerCache.size >= 4096) peerCache.clear();
  peerCache.set(peer, address);
  return address;
}

function parseGrpcPeer(peer: string): string | undefined {
  if (peer === '' || peer === 'unknown') return undefined;
  let p = peer;
  // Other gRPC implementations prefix the family, e.g. `ipv4:1.2.3.4:5`.
  if (p.startsWith('ipv4:') || p.startsWith('ipv6:')) p = p.slice(5);
  if (p.startsWith('[')) {
    const close = p.indexOf(']');
    return close === -1 ? undefined : normalizeAddress(p.slice(1, close));
  }
  // grpc-js always appends the port for TCP, so split it off first: `fd00::12:4317` is the
  // address fd00::12 on port 4317 (it would also parse as one IPv6 address).
  const colon = p.lastIndexOf(':');
  const host = colon > 0 ? p.slice(0, colon) : '';
  if (isIP(host) !== 0) return normalizeAddress(host);
  return isIP(p) !== 0 ? normalizeAddress(p) : undefined;
}

interface TrustedProxyOptions {
  /** CIDRs (or single addresses) of proxies whose header is believed. Empty: the header is never read. */
  readonly cidrs: readonly string[];
  /** Lower-case header (HTTP) / metadata key (gRPC) carrying the client address. */
  readonly header: string;
}

interface ClientAddressResolver {
  /** The address to associate by: the peer, or the header's client address when the peer is a trusted proxy. */
  resolve(peer: string | undefined, header: (name: string) => string | undefined): string | undefined;
}

function buildBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of cidrs) {
    const [addr = '', prefixText] = raw.trim().split('/');
    const family = isIP(addr);
    if (family === 0) {
      throw new TraceReceiverError('SEXTANT_TRACES_CONFIG', `association.trustedProxies entry ${JSON.stringify(raw)} is not an IP address or CIDR; e.g. 10.0.0.0/8 or fd00::/8`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) {
      list.addAddress(addr, type);
      continue;
    }
    const prefix = Number(prefixText);
    const max = family === 4 ? 32 : 128;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new TraceReceiverError('SEXTANT_TRACES_CONFIG', `association.trustedProxies entry ${JSON.stringify(raw)} has prefix length ${prefixText}; valid: 0..${max}`);
    }
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

function contains(list: BlockList, address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function createClientAddressResolver(opts: TrustedProxyOptions): ClientAddressResolver {
  if (opts.cidrs.length === 0) return { resolve: (peer) => peer };
  const trusted = buildBlockList(opts.cidrs);
  const header = opts.header.toLowerCase();
  return {
    resolve(peer, headerOf) {
      if (peer === undefined || !contains(trusted, peer)) return peer;
      const value = headerOf(header);
      if (value === undefined || value === '') return peer;
      // X-Forwarded-For lists client, proxy1, proxy2…; each proxy appends the address it saw.
      // Walk from the right and take the first hop that is not itself a trusted proxy, so a
      // client cannot choose its own address by sending the header itself.
      const hops = value.split(',').map((h) => normalizeAddress(h));
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = hops[i] as string;
        if (isIP(hop) === 0) return peer;
        if (!contains(trusted, hop)) return hop;
      }
      return hops[0] !== undefined && isIP(hops[0]) !== 0 ? hops[0] : peer;
    },
  };
}

export { addressOfGrpcPeer, createClientAddressResolver, normalizeAddress };
export type { ClientAddressResolver, TrustedProxyOptions };
