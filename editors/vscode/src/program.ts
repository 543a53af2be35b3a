/** Finding the daemon's program before starting it, so that a wrong setting gets one message
 * that says what to fix (the language client would report a failed spawn as a broken
 * connection). Plain Node: no `vscode` here. */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export type Located = { path: string } | { problem: string };

function runnable(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) {
      return 'is not a file';
    }
    accessSync(path, constants.X_OK);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not executable';
  }
}

/** Where `command` runs from, found as `spawn` finds it (a path, else each `PATH` entry). */
export function locateProgram(command: string, path: string, cwd: string | undefined): Located {
  if (command.includes('/')) {
    const full = isAbsolute(command) || cwd === undefined ? command : resolve(cwd, command);
    const problem = runnable(full);
    return problem === undefined ? { path: full } : { problem: `${full} ${problem}` };
  }
  for (const folder of path.split(delimiter)) {
    if (folder && runnable(join(folder, command)) === undefined) {
      return { path: join(folder, command) };
    }
  }
  return { problem: `\`${command}\` was not found on PATH` };
}
