import { describe, expect, it } from 'vitest';
import { daemonCommand, programProblemMessage, readSettings, startFailureMessage } from '../src/settings';

const settings = (values: Record<string, unknown>) => readSettings((k) => values[k]);

describe('settings', () => {
  it('defaults to the shared daemon through `lean-batchd connect`', () => {
    expect(daemonCommand(settings({}))).toEqual({ command: 'lean-batchd', args: ['connect'] });
  });

  it('runs a private daemon over stdio through a given Python, with the budget and extra args', () => {
    const s = settings({ pythonPath: '/venv/bin/python', mode: 'stdio', memoryBudgetMb: 8192.4, serverArgs: ['--simulate'] });
    expect(daemonCommand(s)).toEqual({
      command: '/venv/bin/python',
      args: ['-m', 'lean_batchd', 'serve', '--stdio', '--memory-budget', '8192', '--simulate'],
    });
  });

  it('passes --no-prewarm when prewarming on open is off', () => {
    expect(daemonCommand(settings({ prewarmOnOpen: false })).args).toEqual(['connect', '--no-prewarm']);
  });

  it('falls back to defaults on values of the wrong type', () => {
    const s = settings({ executable: 3, mode: 'tcp', serverArgs: 'x', memoryBudgetMb: -1, prewarmOnOpen: 'yes' });
    expect(s).toEqual({
      executable: 'lean-batchd',
      pythonPath: '',
      mode: 'connect',
      serverArgs: [],
      memoryBudgetMb: null,
      prewarmOnOpen: true,
    });
  });

  it('says which setting names a program that cannot run, and how to fix it', () => {
    const byExecutable = programProblemMessage(settings({ executable: '/x/lean-batchd' }), '/x/lean-batchd does not exist');
    expect(byExecutable).toContain('/x/lean-batchd does not exist (setting `leanBatchd.executable`)');
    expect(byExecutable).toContain('pip install lean-batchd');
    const byPython = programProblemMessage(settings({ pythonPath: '/venv/bin/python' }), '/venv/bin/python does not exist');
    expect(byPython).toContain('(setting `leanBatchd.pythonPath`)');
  });

  it('quotes the last words of a daemon that exited while starting', () => {
    const message = startFailureMessage('lean-batchd', ['connect', '--bad'], ['usage: ...', 'error: unrecognized arguments: --bad', ''], 'closed');
    expect(message).toBe(
      'lean-batchd did not start: `lean-batchd connect --bad` said: usage: ... error: unrecognized arguments: --bad. ' +
        'Check `leanBatchd.serverArgs`, `leanBatchd.executable` and `leanBatchd.pythonPath`.',
    );
    expect(startFailureMessage('x', [], [], 'spawn EACCES')).toContain('`x` failed: spawn EACCES');
  });
});
