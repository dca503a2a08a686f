/**
 * Runs `work` for every item, at most `limit` at a time, in the items' order; resolves when all
 * have settled. `work` handles its own failures: a rejection is passed on once all have settled.
 */
export async function eachAtMost<T>(
  items: Iterable<T>,
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const next = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    for (let step = next.next(); !step.done; step = next.next()) {
      try {
        await work(step.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, lane));
  if (failure) throw failure.error;
}
