/** Waits until `done()` holds, checking every 10 ms for at most `ms` (the caller asserts after). */
export async function until(done: () => boolean, ms = 3000): Promise<void> {
  for (let waited = 0; waited < ms && !done(); waited += 10) await new Promise((r) => setTimeout(r, 10));
}
