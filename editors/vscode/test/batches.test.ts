import { describe, expect, it } from 'vitest';
import { BatchModel, fileUri } from '../src/batches';
import type { PlanResult } from '../src/protocol';

const plan: PlanResult = {
  profile: 'header',
  strategy: 'exact',
  batches: [
    {
      id: 'b1',
      sessionKey: 'b1',
      target: 'Demo',
      imports: ['Demo.Basic'],
      modules: [
        { module: 'Demo.A', uri: 'file:///p/Demo/A.lean', library: 'Demo' },
        { module: 'Demo.B', uri: 'file:///p/Demo/B.lean', library: 'Demo' },
      ],
      fingerprint: 'f',
      closureSize: 1,
    },
    { id: 'b2', sessionKey: 'b2', target: null, imports: [], modules: [], fingerprint: 'g', closureSize: 0 },
  ],
  stats: { modules: 2, batches: 2, importedModulesTotal: 1, naiveImportedModulesTotal: 2, largestBatch: 2, largestClosure: 1 },
  diagnostics: [],
};

const project = { root: '/p q', name: 'demo', modules: 2, batches: 2, fingerprint: 'x', repl: null, watching: true };

describe('batch model', () => {
  it('shows projects, then batches, then modules that open their file', () => {
    const m = new BatchModel();
    m.setProjects([project]);
    const [root] = m.roots();
    expect(root).toMatchObject({ kind: 'project', label: 'demo', description: '2 modules · 2 sessions' });
    expect(m.children(root)).toEqual([]);
    m.setPlan('/p q', plan);
    const batches = m.children(root);
    expect(batches.map((b) => [b.label, b.description])).toEqual([
      ['Demo.Basic', '2 modules · loads 1'],
      ['(no imports)', '0 modules · loads 0'],
    ]);
    const modules = m.children(batches[0]);
    expect(modules).toEqual([
      { kind: 'module', root: '/p q', label: 'Demo.A', description: 'Demo', uri: 'file:///p/Demo/A.lean' },
      { kind: 'module', root: '/p q', label: 'Demo.B', description: 'Demo', uri: 'file:///p/Demo/B.lean' },
    ]);
  });

  it('drops a project’s plan when the daemon says it changed', () => {
    const m = new BatchModel();
    m.setProjects([project]);
    m.setPlan('/p q', plan);
    const diff = { added: [], removed: [], changed: [], unchangedCount: 2 };
    expect(m.invalidate({ root: 'file:///elsewhere', fingerprint: 'y', diff })).toBeUndefined();
    expect(m.hasPlan('/p q')).toBe(true);
    expect(m.invalidate({ root: fileUri('/p q'), fingerprint: 'y', diff })).toBe('/p q');
    expect(m.hasPlan('/p q')).toBe(false);
  });

  it('renders file URIs as Python’s Path.as_uri does', () => {
    expect(fileUri('/tmp/a b/«x».lean')).toBe('file:///tmp/a%20b/%C2%ABx%C2%BB.lean');
  });
});
