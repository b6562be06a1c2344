/**
 * Errors every node reports the same way: which field, what was expected, what came.
 * Node adapters pass them to `done(err)`, so Catch nodes see the message and the node keeps running.
 */

/** Describe a received value briefly for an error message (type and a short preview). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of length ${(value as unknown as { length?: number }).length ?? value.byteLength}`;
  return typeof value === 'object' ? `object with keys [${Object.keys(value as object).slice(0, 8).join(', ')}]` : typeof value;
}

/** A message that does not fit the contract: names the field and what was expected. */
export class InputError extends Error {
  constructor(readonly field: string, readonly expected: string, readonly received?: unknown, detail?: string) {
    super(`${field}: expected ${expected}` + (arguments.length >= 3 ? `, got ${describeValue(received)}` : '') + (detail ? ` (${detail})` : ''));
    this.name = 'InputError';
  }
}

/** A node configuration that cannot work; thrown at deploy so the node shows it and refuses input. */
export class ConfigError extends Error {
  constructor(readonly property: string, message: string) {
    super(`config ${property}: ${message}`);
    this.name = 'ConfigError';
  }
}
