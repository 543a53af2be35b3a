/** The language client to the lean-batchd daemon: start, stop, restart, and its notifications. */
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';
import * as p from './protocol';
import { daemonCommand, readSettings } from './settings';

export interface DaemonListeners {
  planChanged(change: p.PlanChanged): void;
  workerChanged(change: p.WorkerChanged): void;
  started(): Promise<void>;
}

export class Daemon implements vscode.Disposable {
  client: LanguageClient | undefined;

  constructor(
    private readonly output: vscode.LogOutputChannel,
    private readonly listeners: DaemonListeners,
  ) {}

  async start(): Promise<void> {
    const settings = readSettings((key) => vscode.workspace.getConfiguration('leanBatchd').get(key));
    const { command, args } = daemonCommand(settings);
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const server: ServerOptions = { command, args, transport: TransportKind.stdio, options: { cwd } };
    const options: LanguageClientOptions = {
      documentSelector: [{ language: 'lean4', scheme: 'file' }],
      outputChannel: this.output,
      revealOutputChannelOn: 4, // RevealOutputChannelOn.Never: Lean's own extension owns the user's attention
      initializationOptions: { prewarmOnOpen: settings.prewarmOnOpen },
    };
    const client = new LanguageClient('leanBatchd', 'lean-batchd', server, options);
    client.onNotification(p.planChanged, (c) => this.listeners.planChanged(c));
    client.onNotification(p.workerChanged, (c) => this.listeners.workerChanged(c));
    this.output.info(`starting ${command} ${args.join(' ')}`);
    try {
      await client.start();
    } catch (e) {
      this.output.error(`lean-batchd did not start: ${String(e)}`);
      void vscode.window.showErrorMessage(
        `lean-batchd did not start (${command}): ${String(e)}. Install it with \`pip install lean-batchd\` ` +
          'or set `leanBatchd.executable` / `leanBatchd.pythonPath`.',
      );
      return;
    }
    this.client = client;
    await this.listeners.started();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      await client.stop();
    }
  }

  /** With `daemon`, the daemon process itself is restarted: in `connect` mode the shared one
   * stops (the bridge starts a fresh one, and other editors sharing it reconnect the same way).
   * Without, only this window's connection is (for a settings change). */
  async restart(daemon: boolean): Promise<void> {
    const client = this.client;
    if (daemon && client !== undefined) {
      await client.sendRequest(p.stopDaemon, {}).catch(() => undefined);
    }
    await this.stop();
    await this.start();
  }

  dispose(): void {
    void this.stop();
  }
}
