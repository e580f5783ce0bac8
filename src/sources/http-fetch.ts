/**
 * GETs JSON from a source's API: paced to the source's rate limit (shared by every unit a process runs), 429 answers
 * honoured (Retry-After / X-RateLimit-RetryAfter; everyone waits, not just the caller), 5xx and network errors tried
 * again with backoff, the answer validated with zod. Secrets travel in headers given by the caller and never appear
 * in an error: errors name the path, never the query's token or the headers.
 */
import { createWriteStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';

export class SourceHttpError extends Error {
  override name = 'SourceHttpError';
  constructor(
    message: string,
    readonly status: number,
    /** A 4xx other than 429 will not get better by asking again. */
    readonly permanent: boolean
  ) {
    super(message);
  }
}

/** Spaces requests evenly at `perSecond` (no burst) and holds everyone back after a 429. */
export class RequestPacer {
  private next = 0;
  constructor(private perSecond: number) {}

  setRate(perSecond: number): void {
    this.perSecond = perSecond;
  }

  async take(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.perSecond;
    if (at > now) await sleep(at - now);
  }

  holdUntil(ms: number): void {
    this.next = Math.max(this.next, ms);
  }
}

export interface FetchStats {
  requests: number;
  tooMany: number;
  retries: number;
}

export interface JsonGetOptions {
  headers: Record<string, string>;
  pacer: RequestPacer;
  stats?: FetchStats;
  /** Attempts for transient failures (429, 5xx, network) before giving up; the activity's retry takes over then. */
  attempts?: number;
  timeoutMs?: number;
  /** Default GET. A POST is tried again only on 429 (nothing was done then): after a timeout or a 5xx the caller
   * must find out whether it took effect (a second POST may create a second export job). */
  method?: 'GET' | 'POST';
  /** A JSON body (POST). */
  body?: unknown;
}

function retryAfterMs(res: Response): number {
  const raw = res.headers.get('x-ratelimit-retryafter') ?? res.headers.get('retry-after');
  const n = raw === null ? NaN : Number(raw);
  // Sendbird's X-RateLimit-RetryAfter is seconds; an HTTP-date Retry-After is read as a date.
  if (Number.isFinite(n)) return Math.max(0, n * 1000);
  const date = raw === null ? NaN : Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : 1000;
}

const redact = (url: URL) => `${url.origin}${url.pathname}`;

export async function getJson<S extends z.ZodType>(url: URL, schema: S, options: JsonGetOptions): Promise<z.infer<S>> {
  const method = options.method ?? 'GET';
  const once = method !== 'GET';
  const attempts = options.attempts ?? 20;
  let lastError: Error = new Error('no attempt made');
  for (let attempt = 0; attempt < attempts; attempt++) {
    await options.pacer.take();
    if (options.stats) options.stats.requests++;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers:
          options.body === undefined ? options.headers : { ...options.headers, 'content-type': 'application/json' },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      lastError = new SourceHttpError(`${method} ${redact(url)} failed: ${(err as Error).message}`, 0, false);
      if (once) throw lastError;
      if (options.stats) options.stats.retries++;
      await sleep(Math.min(8000, 250 * 2 ** attempt));
      continue;
    }
    if (res.status === 429) {
      await res.body?.cancel();
      if (options.stats) options.stats.tooMany++;
      const wait = retryAfterMs(res);
      options.pacer.holdUntil(Date.now() + wait);
      lastError = new SourceHttpError(`${method} ${redact(url)}: 429 too many requests`, 429, false);
      continue;
    }
    const text = await res.text();
    if (res.status >= 500) {
      if (options.stats) options.stats.retries++;
      lastError = new SourceHttpError(`${method} ${redact(url)}: HTTP ${res.status}`, res.status, false);
      if (once) throw lastError;
      await sleep(Math.min(8000, 250 * 2 ** attempt));
      continue;
    }
    if (res.status >= 400) {
      const hint =
        res.status === 401 || res.status === 403
          ? ' (check the API token: SENDBIRD_API_TOKEN or --api-token-file)'
          : '';
      throw new SourceHttpError(
        `${method} ${redact(url)}: HTTP ${res.status} ${text.slice(0, 200)}${hint}`,
        res.status,
        true
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new SourceHttpError(
        `${method} ${redact(url)}: the answer is not JSON (${text.slice(0, 80)})`,
        res.status,
        false
      );
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SourceHttpError(
        `${method} ${redact(url)}: unexpected answer (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`,
        res.status,
        true
      );
    }
    return parsed.data;
  }
  throw lastError;
}

/**
 * Downloads a file (an export's signed URL: no credentials sent, the URL is the credential) into `dest`, paced and
 * with 429 honoured like the JSON calls. A 403/404/410 answers `refused` (a signed URL expired or revoked: the caller
 * asks for a fresh one); other failures throw, naming the path without the URL's signature.
 */
export async function downloadFile(
  url: URL,
  dest: string,
  options: Omit<JsonGetOptions, 'headers' | 'method' | 'body'>
): Promise<{ refused?: number; bytes: number; contentType: string }> {
  const attempts = options.attempts ?? 20;
  let lastError: Error = new Error('no attempt made');
  for (let attempt = 0; attempt < attempts; attempt++) {
    await options.pacer.take();
    if (options.stats) options.stats.requests++;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 30 * 60_000) });
    } catch (err) {
      lastError = new SourceHttpError(`GET ${redact(url)} failed: ${(err as Error).message}`, 0, false);
      if (options.stats) options.stats.retries++;
      await sleep(Math.min(8000, 250 * 2 ** attempt));
      continue;
    }
    if (res.status === 429) {
      await res.body?.cancel();
      if (options.stats) options.stats.tooMany++;
      options.pacer.holdUntil(Date.now() + retryAfterMs(res));
      lastError = new SourceHttpError(`GET ${redact(url)}: 429 too many requests`, 429, false);
      continue;
    }
    if (res.status === 403 || res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      return { refused: res.status, bytes: 0, contentType: '' };
    }
    if (res.status >= 500 || !res.body) {
      await res.body?.cancel();
      if (options.stats) options.stats.retries++;
      lastError = new SourceHttpError(`GET ${redact(url)}: HTTP ${res.status}`, res.status, false);
      await sleep(Math.min(8000, 250 * 2 ** attempt));
      continue;
    }
    if (res.status >= 400)
      throw new SourceHttpError(
        `GET ${redact(url)}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`,
        res.status,
        true
      );
    try {
      await pipeline(Readable.fromWeb(res.body), createWriteStream(dest));
    } catch (err) {
      lastError = new SourceHttpError(`GET ${redact(url)}: download cut short (${(err as Error).message})`, 0, false);
      if (options.stats) options.stats.retries++;
      await sleep(Math.min(8000, 250 * 2 ** attempt));
      continue;
    }
    return { bytes: statSync(dest).size, contentType: res.headers.get('content-type') ?? '' };
  }
  throw lastError;
}
