/** Entry point: wires the daemon client to the status bar, the batch tree and the commands. */
import * as vscode from 'vscode';
import { BatchTree } from './batchTree';
import { Commands } from './commands';
import { Daemon } from './daemon';
import { WorkerStatusBar } from './statusBar';

export interface Api {
  daemon: Daemon;
  tree: BatchTree;
  statusBar: WorkerStatusBar;
  commands: Commands;
}

export async function activate(context: vscode.ExtensionContext): Promise<Api> {
  const output = vscode.window.createOutputChannel('lean-batchd', { log: true });
  let tree: BatchTree | undefined;
  let statusBar: WorkerStatusBar | undefined;
  const daemon = new Daemon(output, {
    planChanged: (c) => tree?.onPlanChanged(c),
    workerChanged: (c) => statusBar?.onWorkerChanged(c),
    started: async () => {
      await Promise.all([tree?.refresh(), statusBar?.reset()]);
    },
  });
  tree = new BatchTree(daemon);
  statusBar = new WorkerStatusBar(daemon);
  const commands = new Commands(daemon);
  const bar = statusBar;
  commands.register(context, () => tree.refresh());
  context.subscriptions.push(
    output,
    daemon,
    bar,
    vscode.window.registerTreeDataProvider('leanBatchd.batches', tree),
    vscode.window.onDidChangeActiveTextEditor((e) => void bar.follow(e)),
    vscode.workspace.onDidChangeTextDocument((e) => bar.edited(e.document)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('leanBatchd') && !e.affectsConfiguration('leanBatchd.trace')) {
        void daemon.restart(false);
      }
    }),
  );
  await vscode.commands.executeCommand('setContext', 'leanBatchd.active', true);
  await daemon.start();
  return { daemon, tree, statusBar: bar, commands };
}
