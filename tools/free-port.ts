import net from 'node:net';

/**
 * Ports picked from below Linux's default ephemeral range (32768-60999): a port the kernel
 * hands out for port 0 is one it also gives outgoing connections as their local port, so in the
 * moment between picking it and listening on it (a harness builds its app first, whose
 * PUBLIC_URL names the port) a client socket could take it (EADDRINUSE, seen in CI). Picked at
 * random, so parallel test workers rarely meet; each is checked free before it is returned.
 */
const LOWEST = 20_000;
const HIGHEST = 32_767;
const TRIES = 50;

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** the kernel's own choice of a free port (every low port tried was taken) */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** a TCP port free on the loopback interface right now (demo, tests, benchmarks) */
export async function freePort(): Promise<number> {
  for (let i = 0; i < TRIES; i++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (await listenable(port)) return port;
  }
  return kernelPort();
}
