/**
 * A localhost static file server with HTTP Range support, for URL-loading and browser tests.
 *
 * @example
 * const srv = await startServer({ '/model.onnx': bytes }, { ranges: true });
 * await fetch(`${srv.url}/model.onnx`, { headers: { Range: 'bytes=0-99' } }); // 206, 100 bytes
 * await srv.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedFile {
  body: Uint8Array | string;
  type?: string;
}

export interface RangeServer {
  url: string;
  /** Every request seen, in order, with its Range header. */
  log: { path: string; range?: string; bytes: number }[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream', '.json': 'application/json',
};

export async function startServer(files: Record<string, ServedFile | Uint8Array | string>, opts: { ranges?: boolean } = {}): Promise<RangeServer> {
  const ranges = opts.ranges ?? true;
  const log: RangeServer['log'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const entry = files[path];
    if (entry === undefined) {
      res.writeHead(404).end();
      return;
    }
    const f: ServedFile = typeof entry === 'string' || entry instanceof Uint8Array ? { body: entry } : entry;
    const body = typeof f.body === 'string' ? Buffer.from(f.body) : Buffer.from(f.body.buffer, f.body.byteOffset, f.body.byteLength);
    const ext = path.slice(path.lastIndexOf('.'));
    const headers: Record<string, string | number> = {
      'content-type': f.type ?? TYPES[ext] ?? 'application/octet-stream',
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'content-range, content-length, accept-ranges',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'cross-origin',
    };
    const range = req.headers.range;
    const m = ranges && range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (m) {
      const start = Number(m[1]);
      const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
      if (start >= body.length || start > end) {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${body.length}` }).end();
        log.push({ path, range, bytes: 0 });
        return;
      }
      const chunk = body.subarray(start, end + 1);
      res.writeHead(206, { ...headers, 'accept-ranges': 'bytes', 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': chunk.length });
      res.end(req.method === 'HEAD' ? undefined : chunk);
      log.push({ path, range, bytes: chunk.length });
      return;
    }
    res.writeHead(200, { ...headers, ...(ranges ? { 'accept-ranges': 'bytes' } : {}), 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
    log.push({ path, range, bytes: body.length });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
