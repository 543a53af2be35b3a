/** The "Lean batches" view: `BatchModel` rendered for VS Code, plans fetched on expand. */
import * as vscode from 'vscode';
import { BatchModel, BatchNode, fileUri } from './batches';
import * as p from './protocol';
import type { Daemon } from './daemon';

export class BatchTree implements vscode.TreeDataProvider<BatchNode> {
  readonly model = new BatchModel();
  private readonly changed = new vscode.EventEmitter<BatchNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly daemon: Daemon) {}

  /** Re-reads the project list; plans are fetched again when a project is expanded. */
  async refresh(): Promise<void> {
    const client = this.daemon.client;
    if (client === undefined) {
      return;
    }
    this.model.setProjects(await client.sendRequest(p.projects, {}));
    this.changed.fire(undefined);
  }

  onPlanChanged(change: p.PlanChanged): void {
    if (this.model.invalidate(change) !== undefined) {
      this.changed.fire(undefined);
    } else {
      void this.refresh();
    }
  }

  getTreeItem(node: BatchNode): vscode.TreeItem {
    const collapsed = vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(node.label, node.kind === 'module' ? vscode.TreeItemCollapsibleState.None : collapsed);
    item.description = node.description;
    item.contextValue = node.kind;
    if (node.kind === 'project') {
      item.iconPath = new vscode.ThemeIcon('package');
      item.tooltip = node.root;
    } else if (node.kind === 'batch') {
      item.iconPath = new vscode.ThemeIcon('layers');
      item.tooltip = node.tooltip;
    } else {
      item.iconPath = new vscode.ThemeIcon('file-code');
      item.resourceUri = vscode.Uri.parse(node.uri);
      item.command = { command: 'vscode.open', title: 'Open module', arguments: [vscode.Uri.parse(node.uri)] };
    }
    return item;
  }

  async getChildren(node?: BatchNode): Promise<BatchNode[]> {
    if (node === undefined) {
      return this.model.roots();
    }
    const client = this.daemon.client;
    if (node.kind === 'project' && !this.model.hasPlan(node.root) && client !== undefined) {
      this.model.setPlan(node.root, await client.sendRequest(p.plan, { uri: fileUri(node.root) }));
    }
    return this.model.children(node);
  }
}
