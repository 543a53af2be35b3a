import { describe, expect, it } from 'vitest';
import { daemonCommand, readSettings } from '../src/settings';

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
});
