import { existsSync } from 'node:fs';
import path from 'node:path';

/** The folder holding this project's package.json, found from this file's location (works from src/ and bin/). */
export function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}
