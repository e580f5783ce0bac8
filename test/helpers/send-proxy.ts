/**
 * An HTTP proxy in front of the ZIM emulator that stands for the network between a worker and ZIM: a send whose
 * body names a held id is taken in and then delivered late, or never, whatever became of the worker that made it
 * (a request already on its way lands after its sender died). Everything else passes straight through.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

/** late: delivered `lateMs` after it arrived; never: swallowed. */
export type SendFate = { late: number } | 'never';

export interface SendProxy {
  url: string;
  /** Resolves when the send naming `id` has reached the proxy. */
  arrived(id: string): Promise<void>;
  /** When the emulator answered the held send naming `id` (ms), once it did. */
  deliveredAt(id: string): number | undefined;
  close(): Promise<void>;
}

const SENDS = /[?&]Action=Send(Peer|Group)Message(&|$)/;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startSendProxy(target: string, held: Record<string, SendFate>): Promise<SendProxy> {
  const arrivals = new Map<string, () => void>();
  const arrived = new Map<string, Promise<void>>();
  for (const id of Object.keys(held)) arrived.set(id, new Promise((r) => arrivals.set(id, r)));
  const delivered = new Map<string, number>();
  const taken = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();

  const forward = async (path: string, method: string, body: string) => {
    const res = await request(target + path, {
      method: method as 'GET' | 'POST',
      ...(method === 'GET' ? {} : { body, headers: { 'content-type': 'application/json' } }),
    });
    return { status: res.statusCode, text: await res.body.text() };
  };

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = req.url ?? '/';
      const id = SENDS.test(path) ? Object.keys(held).find((h) => body.includes(h)) : undefined;
      // Only the first send naming an id is held; any later one passes.
      if (id !== undefined && !taken.has(id)) {
        taken.add(id);
        const fate = held[id]!;
        arrivals.get(id)?.();
        if (fate === 'never') return; // the sender's socket closes when it dies
        const timer = setTimeout(() => {
          timers.delete(timer);
          void forward(path, req.method ?? 'POST', body)
            .catch(() => undefined)
            .then(() => delivered.set(id, Date.now()));
        }, fate.late);
        timers.add(timer);
        return;
      }
      const r = await forward(path, req.method ?? 'GET', body);
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.text);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrived: (id) => arrived.get(id) ?? Promise.reject(new Error(`${id} is not held`)),
    deliveredAt: (id) => delivered.get(id),
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
