/**
 * Consumer names per lease generation (docs/workers.md, "A late reader"). A worker reads a
 * partition through `<durable>_g<generation>`, its lease's generation, so that an acknowledgement
 * an earlier owner sends late reaches that owner's consumer (or none, once it is deleted), never
 * the consumer the new owner reads. The durable itself, without a suffix, is the consumer of a link
 * without a generation (a source in a configuration), and of workers before generations: it counts
 * as generation 0, so a partition consumed that way is taken over from its ack floor.
 */

/** The consumer a link reads: the durable itself, or its generation's consumer. */
export function consumerNameOf(durable: string, generation: number | undefined): string {
  return generation === undefined ? durable : `${durable}_g${generation}`;
}

/**
 * The lease generation whose consumer `name` is, among the consumers of `durable`: 0 for the
 * durable itself, null for any other consumer (another partition's `<prefix>_p10_g3` is not one of
 * `<prefix>_p1`'s).
 */
export function generationOfConsumer(name: string, durable: string): number | null {
  if (name === durable) return 0;
  if (!name.startsWith(`${durable}_g`)) return null;
  const digits = name.slice(durable.length + 2);
  return /^[1-9][0-9]{0,15}$/.test(digits) ? Number(digits) : null;
}

/** The newest consumer of `durable` among `names`: its name and generation, or null when none. */
export function newestConsumerOf(
  names: Iterable<string>,
  durable: string,
): { name: string; generation: number } | null {
  let newest: { name: string; generation: number } | null = null;
  for (const name of names) {
    const generation = generationOfConsumer(name, durable);
    if (generation !== null && (newest === null || generation > newest.generation)) {
      newest = { name, generation };
    }
  }
  return newest;
}
