import { describe, expect, it } from 'vitest';
import type { ModuleInfo, WorkerChanged } from '../src/protocol';
import { WorkerTable, fileState, formatMemory, statusText, statusTooltip } from '../src/workers';

const change = (sessionKey: string, state: string, memoryMb = 100): WorkerChanged => ({
  sessionKey,
  state,
  pid: 1,
  memoryMb,
  imports: ['Mathlib'],
  requests: 0,
});

const info = (sessionKey: string, workerState: string): ModuleInfo => ({
  uri: 'file:///p/A.lean',
  path: '/p/A.lean',
  module: 'A',
  library: 'A',
  imports: ['B', 'C'],
  headerEnd: { line: 3, column: 0 },
  closureSize: 2,
  batchId: sessionKey,
  sessionKey,
  workerState,
  workerMemoryMb: null,
  sharing: 2,
  unsaved: false,
  diagnostics: [],
});

describe('worker table', () => {
  it('counts warm and busy workers and their memory; dead ones leave', () => {
    const t = new WorkerTable();
    t.apply(change('k1', 'importing', 50));
    t.apply(change('k1', 'warm', 1500));
    t.apply(change('k2', 'busy', 600));
    t.apply(change('k3', 'importing', 10));
    expect(t.warm).toBe(2);
    expect(t.memoryMb).toBe(2110);
    t.apply(change('k2', 'dead'));
    expect(t.warm).toBe(1);
    expect(t.state('k2')).toBe('cold');
    expect(statusText(t, 'warm')).toBe('$(flame) 1 warm · 1.5 GB · file: warm');
  });

  it('prefers the pool’s latest word over the moduleInfo snapshot', () => {
    const t = new WorkerTable();
    expect(fileState(info('k1', 'cold'), t)).toBe('cold');
    t.apply(change('k1', 'importing'));
    expect(fileState(info('k1', 'cold'), t)).toBe('importing');
    expect(statusText(t, 'importing')).toMatch(/^\$\(sync~spin\) 0 warm/);
    expect(fileState(undefined, t)).toBeUndefined();
  });

  it('shows a session whose worker left as cold, whatever the older moduleInfo said', () => {
    const t = new WorkerTable();
    t.apply(change('k1', 'warm'));
    t.apply(change('k1', 'retiring'));
    expect(fileState(info('k1', 'warm'), t)).toBe('cold');
    t.apply(change('k1', 'starting'));
    expect(fileState(info('k1', 'cold'), t)).toBe('starting');
  });

  it('is reset from a status reply', () => {
    const t = new WorkerTable();
    t.apply(change('old', 'warm'));
    t.reset({
      projects: [],
      pool: {
        workers: [{ id: 1, sessionKey: 'k9', state: 'warm', pid: 2, imports: [], requests: 3, memory: { chargeMb: 42 } }],
        queueDepth: 0,
        chargedMb: 42,
        budgetMb: null,
        counters: {},
      },
      simulated: true,
      connections: 1,
    });
    expect(t.state('old')).toBeUndefined();
    expect(t.state('k9')).toBe('warm');
    expect(statusTooltip(t, info('k9', 'warm'))).toContain('A: session k9 (warm)');
  });

  it('formats memory', () => {
    expect(formatMemory(512.4)).toBe('512 MB');
    expect(formatMemory(3072)).toBe('3.0 GB');
  });
});
