/** The "Lean batches" tree as plain data: projects, their batches, their modules. Pure: no `vscode`. */
import type { PlanChanged, PlanResult, ProjectInfo } from './protocol';
import { sessionLabel } from './protocol';

export type BatchNode =
  | { kind: 'project'; root: string; label: string; description: string }
  | { kind: 'batch'; root: string; id: string; label: string; description: string; tooltip: string }
  | { kind: 'module'; root: string; label: string; description: string; uri: string };

export class BatchModel {
  private projects: ProjectInfo[] = [];
  private readonly plans = new Map<string, PlanResult>();

  setProjects(projects: ProjectInfo[]): void {
    this.projects = [...projects].sort((a, b) => a.root.localeCompare(b.root));
    const roots = new Set(this.projects.map((p) => p.root));
    for (const root of [...this.plans.keys()]) {
      if (!roots.has(root)) {
        this.plans.delete(root);
      }
    }
  }

  setPlan(root: string, plan: PlanResult): void {
    this.plans.set(root, plan);
  }

  hasPlan(root: string): boolean {
    return this.plans.has(root);
  }

  /** The project a `planChanged` is about (its `root` is a file URI), whose plan is now out of date. */
  invalidate(change: PlanChanged): string | undefined {
    const root = this.projects.find((p) => fileUri(p.root) === change.root)?.root;
    if (root !== undefined) {
      this.plans.delete(root);
    }
    return root;
  }

  roots(): BatchNode[] {
    return this.projects.map((p) => ({
      kind: 'project',
      root: p.root,
      label: p.name,
      description: `${p.modules} modules · ${p.batches} sessions`,
    }));
  }

  children(node: BatchNode): BatchNode[] {
    const plan = this.plans.get(node.root);
    if (plan === undefined) {
      return [];
    }
    if (node.kind === 'project') {
      return plan.batches.map((b) => ({
        kind: 'batch',
        root: node.root,
        id: b.id,
        label: b.imports.length === 0 ? '(no imports)' : b.imports.join(', '),
        description: `${b.modules.length} module${b.modules.length === 1 ? '' : 's'} · loads ${b.closureSize}`,
        tooltip: `${sessionLabel(b.sessionKey)}${b.target ? ` for ${b.target}` : ''}\n${b.imports.join('\n')}`,
      }));
    }
    if (node.kind === 'batch') {
      const batch = plan.batches.find((b) => b.id === node.id);
      return (batch?.modules ?? []).map((m) => ({
        kind: 'module',
        root: node.root,
        label: m.module,
        description: m.library ?? '',
        uri: m.uri,
      }));
    }
    return [];
  }
}

/** What Python's `Path.as_uri()` gives for an absolute POSIX path (the daemon's `root`). */
export function fileUri(path: string): string {
  return 'file://' + path.split('/').map(encodeURIComponent).join('/');
}
