import assert from 'node:assert/strict';

/** Polls `probe` until it holds; returns the time it took in ms. Fails the test after `deadlineMs`. */
export async function within(deadlineMs: number, what: string, probe: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - start;
    if (performance.now() - start > deadlineMs) assert.fail(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The name of the error a call fails with (e.g. an SDK exception class name), or undefined when it succeeds. */
export async function errorName(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as Error).name;
  }
}

/** The exception name and message a call fails with; fails the test when the call succeeds. */
export async function failure(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  assert.fail('the call succeeded');
}
