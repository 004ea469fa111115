/**
 * A TCP proxy in front of a Redis, as a deployment's Redis endpoint is (a DNS name or virtual IP
 * that a failover moves): `target` says where new connections go; a connection made before a
 * move stays with the server it reached, as a TCP connection to a demoted primary does.
 */
import net from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  /**
   * While set, a reply from the server it matches is passed on and the client's connection ended
   * with it, in one go (a Redis that goes away just after it answered: its last reply and its
   * FIN reach the client together).
   */
  cutAfter?: (reply: Buffer) => boolean;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    public target: number,
  ) {}

  static async start(target: number): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port, target);
    server.on('connection', (client) => proxy.pipe(client));
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private pipe(client: net.Socket): void {
    const upstream = net.connect(this.target, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!this.cutAfter?.(chunk)) {
        client.write(chunk);
        return;
      }
      client.end(chunk);
      upstream.destroy();
    });
  }

  /** ends every connection it carries (the server's, as a restart would) */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}
