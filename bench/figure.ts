// What a figure is, and the small helpers both figure modules use to compare values with targets.
export interface Figure {
  section: string;
  name: string;
  value?: number;
  unit: string;
  /** Shown instead of the value (e.g. "not implemented"). */
  text?: string;
  baseline?: { label: string; value: number; unit: string };
  ratio?: number;
  target?: string;
  met?: boolean;
  note?: string;
}

export const le = (v: number | undefined, max: number) => (v === undefined ? undefined : v <= max);
export const ge = (v: number | undefined, min: number) => (v === undefined ? undefined : v >= min);
export const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0
    ? undefined
    : a / b;
export const finite = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? undefined : x);

export function sum(...xs: (number | undefined)[]): number | undefined {
  return xs.some((x) => x === undefined) ? undefined : (xs as number[]).reduce((a, b) => a + b, 0);
}
