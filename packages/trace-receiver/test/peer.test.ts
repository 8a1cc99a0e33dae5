import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { addressOfGrpcPeer, createClientAddressResolver, normalizeAddress } from '../src/peer.ts';

void test('peer strings of grpc-js and other gRPC servers give the client address; IPv4-mapped IPv6 is normalised', (t: TestContext) => {
  t.assert.equal(addressOfGrpcPeer('127.0.0.5:40312'), '127.0.0.5');
  t.assert.equal(addressOfGrpcPeer('::ffff:10.1.2.3:5555'), '10.1.2.3');
  t.assert.equal(addressOfGrpcPeer('fd00::12:4317'), 'fd00::12');
  t.assert.equal(addressOfGrpcPeer('[fd00::12]:4317'), 'fd00::12');
  t.assert.equal(addressOfGrpcPeer('ipv4:10.0.0.7:1234'), '10.0.0.7');
  t.assert.equal(addressOfGrpcPeer('unknown'), undefined);
  t.assert.equal(addressOfGrpcPeer('not-an-address:80'), undefined);
  t.assert.equal(normalizeAddress('::FFFF:192.168.0.1'), '192.168.0.1');
  t.assert.equal(normalizeAddress('fe80::1%eth0'), 'fe80::1');
});

void test('trusted proxy: the right-most untrusted X-Forwarded-For hop, only behind a trusted peer', (t: TestContext) => {
  const r = createClientAddressResolver({ cidrs: ['10.0.0.0/8', 'fd00::/8'], header: 'X-Forwarded-For' });
  const h = (v: string) => (name: string) => (name === 'x-forwarded-for' ? v : undefined);
  t.assert.equal(r.resolve('10.1.1.1', h('192.0.2.9')), '192.0.2.9');
  t.assert.equal(r.resolve('10.1.1.1', h('198.51.100.1, 192.0.2.9, 10.2.2.2')), '192.0.2.9', 'the client cannot choose its own address by sending the header');
  t.assert.equal(r.resolve('192.0.2.50', h('192.0.2.9')), '192.0.2.50', 'an untrusted peer\'s header is ignored');
  t.assert.equal(r.resolve('10.1.1.1', h('garbage')), '10.1.1.1');
  t.assert.equal(r.resolve('fd00::1', h('::ffff:192.0.2.7')), '192.0.2.7');
  t.assert.equal(createClientAddressResolver({ cidrs: [], header: 'x-forwarded-for' }).resolve('10.1.1.1', h('192.0.2.9')), '10.1.1.1', 'no trusted proxies: never read');
  t.assert.throws(() => createClientAddressResolver({ cidrs: ['10.0.0.0/40'], header: 'x' }), /SEXTANT_TRACES_CONFIG/);
});
