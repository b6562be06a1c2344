import * as path from 'path';

/** The installed package's root folder (this file is dist/lib/paths.js or lib/paths.ts). */
export const PACKAGE_ROOT = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === 'dist' ? '../..' : '..');

/**
 * Resolve a file path a user or an example flow gives: `pkg:models/x.onnx` names a file shipped
 * inside this package; a relative path is taken from `baseDir` (Node-RED's user directory).
 */
export function resolveUserPath(p: string, baseDir: string = process.cwd()): string {
  if (p.startsWith('pkg:')) return path.join(PACKAGE_ROOT, p.slice(4));
  return path.isAbsolute(p) ? p : path.join(baseDir, p);
}
