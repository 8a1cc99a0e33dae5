// Preloaded into the demo app (`node --import ./bind-source.ts app.ts`) when it must connect from
// a given source address. grpc-js has no channel option for a local address, so outgoing TCP
// connections to loopback get `localAddress` here; on Linux any 127.x.y.z is a valid source on
// the loopback interface, which is how a test plays a pod whose status.podIP is that address.
import net from 'node:net';

const source = process.env['SEXTANT_APP_SOURCE_ADDRESS'];
if (source !== undefined && source !== '') {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply() below
  const original = net.Socket.prototype.connect;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  net.Socket.prototype.connect = function connect(this: net.Socket, ...args: any[]): net.Socket {
    // net.connect() hands Socket#connect its normalised arguments as one array ([options, cb]).
    const holder: unknown[] = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
    const first = holder[0];
    if (first !== null && typeof first === 'object' && 'port' in first) {
      const o = first as net.TcpSocketConnectOpts;
      if (o.localAddress === undefined && (o.host === undefined || o.host.startsWith('127.') || o.host === 'localhost')) {
        holder[0] = { ...o, localAddress: source };
      }
    }
    return original.apply(this, args as never);
  } as typeof net.Socket.prototype.connect;
}
