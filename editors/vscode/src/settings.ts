/** Settings under `leanBatchd.*`, and the daemon command they give. Pure: no `vscode` here. */

export interface DaemonSettings {
  executable: string;
  pythonPath: string;
  mode: 'connect' | 'stdio';
  serverArgs: string[];
  memoryBudgetMb: number | null;
  prewarmOnOpen: boolean;
}

export const DEFAULT_SETTINGS: DaemonSettings = {
  executable: 'lean-batchd',
  pythonPath: '',
  mode: 'connect',
  serverArgs: [],
  memoryBudgetMb: null,
  prewarmOnOpen: true,
};

/** Reads settings through a getter shaped like `WorkspaceConfiguration.get`, falling back to
 * the defaults on values of the wrong type (a hand-edited settings.json must not break start-up). */
export function readSettings(get: (key: string) => unknown): DaemonSettings {
  const str = (key: keyof DaemonSettings): string => {
    const v = get(key);
    return typeof v === 'string' ? v : (DEFAULT_SETTINGS[key] as string);
  };
  const mode = get('mode');
  const args = get('serverArgs');
  const budget = get('memoryBudgetMb');
  const prewarm = get('prewarmOnOpen');
  return {
    executable: str('executable').trim() || DEFAULT_SETTINGS.executable,
    pythonPath: str('pythonPath').trim(),
    mode: mode === 'stdio' ? 'stdio' : 'connect',
    serverArgs: Array.isArray(args) ? args.filter((a): a is string => typeof a === 'string') : [],
    memoryBudgetMb: typeof budget === 'number' && budget > 0 ? budget : null,
    prewarmOnOpen: typeof prewarm === 'boolean' ? prewarm : true,
  };
}

/** `lean-batchd connect` shares the per-user daemon and its warm workers; `serve --stdio` runs a
 * private one. Either way the daemon is a child the language client owns over stdio, started with
 * exactly these arguments (the client adds none: see `Daemon.start`). */
export function daemonCommand(s: DaemonSettings): { command: string; args: string[] } {
  const base = s.pythonPath ? { command: s.pythonPath, args: ['-m', 'lean_batchd'] } : { command: s.executable, args: [] };
  const args = [...base.args, ...(s.mode === 'stdio' ? ['serve', '--stdio'] : ['connect'])];
  if (s.memoryBudgetMb !== null) {
    args.push('--memory-budget', String(Math.round(s.memoryBudgetMb)));
  }
  if (!s.prewarmOnOpen) {
    args.push('--no-prewarm');
  }
  return { command: base.command, args: [...args, ...s.serverArgs] };
}

/** The setting that names the daemon's program. */
export function programSetting(s: DaemonSettings): string {
  return s.pythonPath ? 'leanBatchd.pythonPath' : 'leanBatchd.executable';
}

/** The one message for a program that cannot run: what is wrong and what to change. */
export function programProblemMessage(s: DaemonSettings, problem: string): string {
  const fix = s.pythonPath
    ? 'Set `leanBatchd.pythonPath` to a Python that has lean-batchd installed, or clear it to use `leanBatchd.executable`.'
    : 'Install it (`pip install lean-batchd`) or set `leanBatchd.executable` to its full path ' +
      '(or `leanBatchd.pythonPath` to a Python that has it).';
  return `lean-batchd cannot start: ${problem} (setting \`${programSetting(s)}\`). ${fix}`;
}

/** The one message for a daemon that started but failed before it answered, with its last words. */
export function startFailureMessage(command: string, args: string[], stderr: string[], error: string): string {
  const said = stderr.filter((l) => l.trim()).slice(-3).join(' ');
  return (
    `lean-batchd did not start: \`${[command, ...args].join(' ')}\` ${said ? `said: ${said}` : `failed: ${error}`}. ` +
    'Check `leanBatchd.serverArgs`, `leanBatchd.executable` and `leanBatchd.pythonPath`.'
  );
}
