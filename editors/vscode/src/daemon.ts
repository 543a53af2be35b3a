/** The language client to the lean-batchd daemon: start, stop, restart, and its notifications. */
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import { CodeLensRequest, LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { LensFollower } from './lens';
import { locateProgram } from './program';
import * as p from './protocol';
import { daemonCommand, programProblemMessage, readSettings, startFailureMessage } from './settings';

export interface DaemonListeners {
  planChanged(change: p.PlanChanged): void;
  workerChanged(change: p.WorkerChanged): void;
  started(): Promise<void>;
}

/** A language client whose own notifications stay quiet until it runs: `Daemon.start` reports a
 * failed start once, saying what to fix; the client would add "couldn't create connection". */
class DaemonClient extends LanguageClient {
  starting = true;

  override error(message: string, data?: unknown, showNotification: boolean | 'force' = true): void {
    super.error(message, data, this.starting ? false : showNotification);
  }
}

export class Daemon implements vscode.Disposable {
  client: LanguageClient | undefined;
  private readonly lenses = new LensFollower(() => {
    const feature = this.client?.getFeature(CodeLensRequest.method);
    const shapes = new Set(vscode.window.visibleTextEditors.map((e) => feature?.getProvider(e.document)));
    for (const shape of shapes) {
      shape?.onDidChangeCodeLensEmitter.fire();
    }
  });

  constructor(
    private readonly output: vscode.LogOutputChannel,
    private readonly listeners: DaemonListeners,
  ) {}

  async start(): Promise<void> {
    const settings = readSettings((key) => vscode.workspace.getConfiguration('leanBatchd').get(key));
    const { command, args } = daemonCommand(settings);
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const located = locateProgram(command, process.env.PATH ?? '', cwd);
    if ('problem' in located) {
      this.fail(programProblemMessage(settings, located.problem));
      return;
    }
    // No `transport`: with `TransportKind.stdio` the client appends `--stdio` to `args`, which
    // `lean-batchd connect` refuses. Without one it speaks stdio and passes `args` unchanged.
    const server: ServerOptions = { command: located.path, args, options: { cwd } };
    const stderr: string[] = [];
    const options: LanguageClientOptions = {
      documentSelector: [{ language: 'lean4', scheme: 'file' }],
      outputChannel: this.output,
      revealOutputChannelOn: 4, // RevealOutputChannelOn.Never: Lean's own extension owns the user's attention
      initializationOptions: { prewarmOnOpen: settings.prewarmOnOpen },
      initializationFailedHandler: () => false, // reported once below
      middleware: {
        provideCodeLenses: (document, token, next) => {
          this.lenses.asked();
          return next(document, token);
        },
      },
      stdioOptions: {
        stdout: () => undefined, // the LSP stream: read by the client itself
        stderr: (input, out) =>
          readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on('line', (line) => {
            out.error(line);
            stderr.push(line);
            stderr.splice(0, stderr.length - 20);
          }),
      },
    };
    const client = new DaemonClient('leanBatchd', 'lean-batchd', server, options);
    client.onNotification(p.planChanged, (c) => this.listeners.planChanged(c));
    client.onNotification(p.workerChanged, (c) => {
      this.listeners.workerChanged(c);
      this.lenses.changed();
    });
    this.output.info(`starting ${located.path} ${args.join(' ')}`);
    try {
      await client.start();
    } catch (e) {
      await new Promise((done) => setTimeout(done, 100)); // the last stderr lines of a process that just exited
      this.fail(startFailureMessage(command, args, stderr, e instanceof Error ? e.message : String(e)));
      return;
    } finally {
      client.starting = false;
    }
    this.client = client;
    await this.listeners.started();
  }

  private fail(message: string): void {
    this.output.error(message);
    void vscode.window.showErrorMessage(message, 'Open Settings').then((choice) => {
      if (choice !== undefined) {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'leanBatchd');
      }
    });
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
   * The new bridge starts once the old daemon has exited: one still shutting down held the
   * socket's lock while a new one started, and the new daemon was left without its socket.
   * Without `daemon`, only this window's connection is restarted (for a settings change). */
  async restart(daemon: boolean): Promise<void> {
    const client = this.client;
    let pid: number | undefined;
    if (daemon && client !== undefined) {
      pid = (await client.sendRequest(p.status, {}).catch(() => undefined))?.daemon?.pid;
      await client.sendRequest(p.stopDaemon, {}).catch(() => undefined);
    }
    await this.stop();
    if (pid !== undefined) {
      await exited(pid, 15_000);
    }
    await this.start();
  }

  dispose(): void {
    this.lenses.dispose();
    void this.stop();
  }
}

/** Resolves once process `pid` has exited, or after `ms`. */
export async function exited(pid: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((done) => setTimeout(done, 50));
  }
}
