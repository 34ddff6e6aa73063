function nonEmpty(xs: number[]): void {
  if (xs.length === 0) throw new Error("empty array");
}
export function mean(xs: number[]): number {
  nonEmpty(xs);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
export function median(xs: number[]): number {
  nonEmpty(xs);
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function mode(xs: number[]): number[] {
  nonEmpty(xs);
  const counts = new Map<number, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  const top = Math.max(...counts.values());
  return [...counts].filter(([, n]) => n === top).map(([x]) => x).sort((a, b) => a - b);
}
