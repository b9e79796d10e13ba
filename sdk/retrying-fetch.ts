/**
 * The SDK's retries: a fetch that sends a request again when the answer says it never reached a healthy
 * instance (502, 503, 504) or there was no answer at all (a network error), but only when sending it twice is
 * safe — GET, HEAD and OPTIONS always; PUT, PATCH and DELETE only with If-Match (a second apply fails the
 * precondition instead of applying twice); POST only with an Idempotency-Key (the server answers a retry with the
 * first result). A 500 or a 4xx is an answer and is never retried.
 *
 * Between attempts it waits an exponential backoff with full jitter (a random delay between 0 and
 * min(maxDelayMs, baseDelayMs × 2^attempt)), or the server's Retry-After when it gives one no longer than
 * maxDelayMs (a longer one is returned to the caller, who knows whether it can wait that long). The request's
 * AbortSignal ends the wait at once.
 */

export interface RetryOptions {
  /** Attempts in all, the first one included (default 3). */
  readonly attempts?: number;
  /** The backoff's base, in milliseconds (default 50). */
  readonly baseDelayMs?: number;
  /** The longest wait between two attempts, backoff or Retry-After, in milliseconds (default 1000). */
  readonly maxDelayMs?: number;
}

type Fetch = (request: Request) => Promise<Response>;

const RETRIED_STATUSES = new Set([502, 503, 504]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const CONDITIONAL_METHODS = new Set(["PUT", "PATCH", "DELETE"]);

/** Whether sending this request a second time cannot apply it twice. */
export function isRetryable(request: Request): boolean {
  const method = request.method.toUpperCase();
  if (SAFE_METHODS.has(method)) return true;
  if (CONDITIONAL_METHODS.has(method)) return request.headers.has("if-match");
  return method === "POST" && request.headers.has("idempotency-key");
}

/** Retry-After in milliseconds (delay-seconds or an HTTP date), undefined when absent or unreadable. */
export function retryAfterMs(response: Response, now = Date.now()): number | undefined {
  const value = response.headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export function retryingFetch(fetch: Fetch, options: RetryOptions = {}): Fetch {
  const attempts = Math.max(1, options.attempts ?? 3);
  const base = options.baseDelayMs ?? 50;
  const cap = options.maxDelayMs ?? 1000;
  return async (request) => {
    if (!isRetryable(request)) return fetch(request);
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= attempts;
      // Each attempt sends a copy, so the body can be sent again.
      const sent = last ? request : request.clone();
      let wait: number;
      try {
        const response = await fetch(sent);
        if (last || !RETRIED_STATUSES.has(response.status)) return response;
        const asked = retryAfterMs(response);
        if (asked !== undefined && asked > cap) return response;
        wait = asked ?? Math.random() * Math.min(cap, base * 2 ** attempt);
        await response.body?.cancel();
      } catch (error) {
        if (last || request.signal.aborted) throw error;
        wait = Math.random() * Math.min(cap, base * 2 ** attempt);
      }
      await sleep(wait, request.signal);
    }
  };
}
