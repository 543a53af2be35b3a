/** The status bar item: warm workers, their memory, and the current file's session. */
import * as vscode from 'vscode';
import * as p from './protocol';
import type { Daemon } from './daemon';
import { WorkerTable, fileState, statusText, statusTooltip } from './workers';

export class WorkerStatusBar implements vscode.Disposable {
  readonly table = new WorkerTable();
  private readonly item = vscode.window.createStatusBarItem('leanBatchd.status', vscode.StatusBarAlignment.Right, 90);
  private info: p.ModuleInfo | undefined;
  private asked = 0;
  private soon: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly daemon: Daemon) {
    this.item.name = 'lean-batchd';
    this.item.command = 'leanBatchd.showStatus';
    this.render();
    this.item.show();
  }

  async reset(): Promise<void> {
    const client = this.daemon.client;
    if (client !== undefined) {
      this.table.reset(await client.sendRequest(p.status, {}));
    }
    await this.follow(vscode.window.activeTextEditor);
  }

  onWorkerChanged(change: p.WorkerChanged): void {
    this.table.apply(change);
    this.render();
  }

  /** Follows the active editor: asks the daemon which session the file belongs to. Only the
   * latest question's answer counts (an older, slower answer would show another file's session). */
  async follow(editor: vscode.TextEditor | undefined): Promise<void> {
    const client = this.daemon.client;
    const asked = ++this.asked;
    let info: p.ModuleInfo | undefined;
    if (editor !== undefined && editor.document.languageId === 'lean4' && editor.document.uri.scheme === 'file' && client) {
      try {
        info = await client.sendRequest(p.moduleInfo, { textDocument: { uri: editor.document.uri.toString() } });
      } catch {
        info = undefined; // a file outside every Lake project: no session to show
      }
    }
    if (asked === this.asked) {
      this.info = info;
      this.render();
    }
  }

  /** An edit to the active file may change its header, so its session: ask again shortly. */
  edited(document: vscode.TextDocument): void {
    const editor = vscode.window.activeTextEditor;
    if (editor?.document !== document) {
      return;
    }
    clearTimeout(this.soon);
    this.soon = setTimeout(() => void this.follow(vscode.window.activeTextEditor), 100);
  }

  private render(): void {
    const state = fileState(this.info, this.table);
    this.item.text = statusText(this.table, state);
    this.item.tooltip = statusTooltip(this.table, this.info);
  }

  dispose(): void {
    clearTimeout(this.soon);
    this.item.dispose();
  }
}
