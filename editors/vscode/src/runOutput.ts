/** A `run` reply as output-channel text and as diagnostics. Pure: no `vscode`. */
import type { RunResult } from './protocol';
import { sessionLabel } from './protocol';

export function runReport(command: string, r: RunResult): string {
  const head = `▶ ${command}  (${r.elapsedMs} ms, ${sessionLabel(r.sessionKey)}${r.simulated ? ', SIMULATED REPL' : ''})`;
  const lines = [head];
  if (r.failure) {
    lines.push(`  failed: ${r.failure.kind}: ${r.failure.message}`);
  }
  for (const m of r.messages) {
    lines.push(`  ${m.range.start.line + 1}:${m.range.start.character + 1} ${m.severity}: ${m.message}`);
  }
  if (!r.failure && r.messages.length === 0) {
    lines.push('  (no messages)');
  }
  return lines.join('\n');
}

/** LSP DiagnosticSeverity numbers (1 error, 2 warning, 3 information). */
export function severityNumber(severity: string): 1 | 2 | 3 {
  return severity === 'error' ? 1 : severity === 'warning' ? 2 : 3;
}
