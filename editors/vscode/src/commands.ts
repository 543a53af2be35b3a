/** The palette commands: each turns into one daemon request about the active Lean file. */
import * as vscode from 'vscode';
import * as p from './protocol';
import type { Daemon } from './daemon';
import { runReport, severityNumber } from './runOutput';

const SEVERITY: Record<1 | 2 | 3, vscode.DiagnosticSeverity> = {
  1: vscode.DiagnosticSeverity.Error,
  2: vscode.DiagnosticSeverity.Warning,
  3: vscode.DiagnosticSeverity.Information,
};

export class Commands {
  readonly runOutput = vscode.window.createOutputChannel('lean-batchd: run');
  readonly runDiagnostics = vscode.languages.createDiagnosticCollection('lean-batchd run');

  constructor(private readonly daemon: Daemon) {}

  register(context: vscode.ExtensionContext, refresh: () => Promise<void>): void {
    const add = (id: string, f: () => Promise<unknown>) =>
      context.subscriptions.push(vscode.commands.registerCommand(id, () => this.guard(f)));
    add('leanBatchd.prewarmFile', () => this.prewarm());
    add('leanBatchd.runCommand', () => this.run());
    add('leanBatchd.showStatus', () => this.status());
    add('leanBatchd.evictSession', () => this.evict());
    add('leanBatchd.restartDaemon', () => this.daemon.restart(true));
    add('leanBatchd.refreshBatches', refresh);
    context.subscriptions.push(this.runOutput, this.runDiagnostics);
  }

  /** Daemon errors (no project, no REPL, a worker that failed) become messages, never silence. */
  private async guard(f: () => Promise<unknown>): Promise<void> {
    try {
      await f();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      void vscode.window.showErrorMessage(`lean-batchd: ${message}`);
    }
  }

  private client() {
    if (this.daemon.client === undefined) {
      throw new Error('the daemon is not running (see the lean-batchd output)');
    }
    return this.daemon.client;
  }

  private document(): vscode.TextDocument {
    const doc = vscode.window.activeTextEditor?.document;
    if (doc === undefined || doc.languageId !== 'lean4' || doc.uri.scheme !== 'file') {
      throw new Error('open a Lean file first');
    }
    return doc;
  }

  async prewarm(): Promise<p.PrewarmResult> {
    const doc = this.document();
    const result = await this.client().sendRequest(p.prewarm, { textDocument: { uri: doc.uri.toString() } });
    vscode.window.setStatusBarMessage(`lean-batchd: warming ${p.sessionLabel(result.sessionKey)}`, 3000);
    return result;
  }

  async run(command?: string): Promise<p.RunResult | undefined> {
    const doc = this.document();
    const text =
      command ??
      (await vscode.window.showInputBox({
        prompt: `Lean command in the context of ${vscode.workspace.asRelativePath(doc.uri)}`,
        placeHolder: '#check Nat.add_comm',
      }));
    if (!text) {
      return undefined;
    }
    const result = await this.client().sendRequest(p.run, { textDocument: { uri: doc.uri.toString() }, command: text });
    this.runOutput.appendLine(runReport(text, result));
    this.runOutput.show(true);
    this.runDiagnostics.set(
      doc.uri,
      result.messages.map((m) => {
        const r = m.range;
        const range = new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
        const d = new vscode.Diagnostic(range, m.message, SEVERITY[severityNumber(m.severity)]);
        d.source = 'lean-batchd run';
        return d;
      }),
    );
    return result;
  }

  async status(): Promise<p.StatusResult> {
    const s = await this.client().sendRequest(p.status, {});
    const out = this.runOutput;
    out.appendLine(`lean-batchd status${s.simulated ? ' (SIMULATED REPL)' : ''}: ${s.connections} connection(s)`);
    for (const project of s.projects) {
      out.appendLine(`  project ${project.name} at ${project.root}: ${project.modules} modules, ${project.batches} sessions`);
    }
    const budget = s.pool.budgetMb === null ? '' : ` of ${s.pool.budgetMb} MB`;
    out.appendLine(`  ${s.pool.workers.length} workers, ${s.pool.chargedMb} MB charged${budget}, queue ${s.pool.queueDepth}`);
    for (const w of s.pool.workers) {
      out.appendLine(`    ${p.sessionLabel(w.sessionKey)} ${w.state} pid ${w.pid ?? '-'} ${w.memory.chargeMb} MB ${w.imports.join(', ')}`);
    }
    out.show(true);
    return s;
  }

  async evict(): Promise<number> {
    const doc = this.document();
    const { evicted } = await this.client().sendRequest(p.evict, { textDocument: { uri: doc.uri.toString() } });
    vscode.window.setStatusBarMessage(`lean-batchd: evicted ${evicted} worker${evicted === 1 ? '' : 's'}`, 3000);
    return evicted;
  }
}
