const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };

/**
 * A duration for `trent dev advance-clock`: one or more whole numbers with a unit, d(ays), h(ours), m(inutes) or
 * s(econds), such as `400d`, `36h`, `90m`, `30s` or `1d12h`. Returns whole seconds; undefined when `text` is not one.
 */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+[dhms])+$/.test(text)) return undefined;
  let seconds = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([dhms])/g)) seconds += Number(n) * UNIT_SECONDS[unit!]!;
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}
