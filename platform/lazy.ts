/**
 * A value made on first use and then shared: every call returns the same promise. A failed attempt is
 * forgotten, so the next call tries again; `reset()` forgets the value (or the attempt under way) and hands
 * it back, e.g. to close a connection that must be made anew.
 */
export interface Lazy<T> {
  (): Promise<T>;
  reset(): Promise<T> | undefined;
}

export function lazy<T>(make: () => Promise<T>): Lazy<T> {
  let pending: Promise<T> | undefined;
  const get = () => {
    if (!pending) {
      const attempt: Promise<T> = make().catch((error: unknown) => {
        if (pending === attempt) pending = undefined;
        throw error;
      });
      pending = attempt;
    }
    return pending;
  };
  return Object.assign(get, {
    reset() {
      const current = pending;
      pending = undefined;
      return current;
    },
  });
}
