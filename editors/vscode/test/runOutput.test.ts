import { describe, expect, it } from 'vitest';
import { runReport, severityNumber } from '../src/runOutput';

describe('run output', () => {
  it('lists messages at 1-based positions and labels the simulated REPL', () => {
    const text = runReport('#check x', {
      uri: 'file:///p/A.lean',
      path: '/p/A.lean',
      sessionKey: 'k',
      messages: [{ severity: 'error', range: { start: { line: 4, character: 2 }, end: { line: 4, character: 3 } }, message: 'unknown x' }],
      reply: {},
      failure: null,
      elapsedMs: 1.5,
      simulated: true,
    });
    expect(text).toBe('▶ #check x  (1.5 ms, session k, SIMULATED REPL)\n  5:3 error: unknown x');
  });

  it('reports a failed worker', () => {
    const text = runReport('#eval 1', {
      uri: '', path: '', sessionKey: 'k', messages: [], reply: null,
      failure: { kind: 'timeout', message: 'no reply in 5 s' }, elapsedMs: 5000, simulated: false,
    });
    expect(text).toBe('▶ #eval 1  (5000 ms, session k)\n  failed: timeout: no reply in 5 s');
  });

  it('names the session by its first 8 digits, as the command line does', () => {
    const text = runReport('#eval 1', {
      uri: '', path: '', sessionKey: '0123456789abcdef', messages: [], reply: {}, failure: null,
      elapsedMs: 1, simulated: false,
    });
    expect(text.split('\n')[0]).toBe('▶ #eval 1  (1 ms, session 01234567)');
  });

  it('maps REPL severities to LSP numbers', () => {
    expect(['error', 'warning', 'info'].map(severityNumber)).toEqual([1, 2, 3]);
  });
});
