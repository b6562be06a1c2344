/** Helpers for reading editor configuration values, which arrive as strings (often blank). */

/** A value the editor left empty: undefined, null, or a string of only white space. */
export function isBlank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}
