/** Warm workers as `workerChanged` reports them, and the status bar text. Pure: no `vscode`. */
import type { ModuleInfo, StatusResult, WorkerChanged } from './protocol';
import { sessionLabel } from './protocol';

const GONE = new Set(['dead', 'retiring']);
const LIVE = new Set(['warm', 'busy']);

export class WorkerTable {
  private readonly workers = new Map<string, WorkerChanged>();
  /** Sessions whose worker left since the last `reset`: cold now, whatever an older
   * `moduleInfo` said (after Evict the status bar must not keep showing `warm`). */
  private readonly gone = new Set<string>();

  /** Applies one notification; workers that died or are retiring leave the table. */
  apply(change: WorkerChanged): void {
    if (GONE.has(change.state)) {
      this.workers.delete(change.sessionKey);
      this.gone.add(change.sessionKey);
    } else {
      this.workers.set(change.sessionKey, change);
      this.gone.delete(change.sessionKey);
    }
  }

  /** Replaces the table from a `status` reply (on start and after reconnecting). */
  reset(status: StatusResult): void {
    this.workers.clear();
    this.gone.clear();
    for (const w of status.pool.workers) {
      this.apply({
        sessionKey: w.sessionKey,
        state: w.state,
        pid: w.pid,
        memoryMb: w.memory.chargeMb,
        imports: w.imports,
        requests: w.requests,
      });
    }
  }

  state(sessionKey: string): string | undefined {
    return this.workers.get(sessionKey)?.state ?? (this.gone.has(sessionKey) ? 'cold' : undefined);
  }

  get warm(): number {
    return [...this.workers.values()].filter((w) => LIVE.has(w.state)).length;
  }

  get memoryMb(): number {
    return [...this.workers.values()].reduce((sum, w) => sum + w.memoryMb, 0);
  }
}

export function formatMemory(mb: number): string {
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Math.round(mb)} MB`;
}

/** The current file's session state: the pool's latest word wins over the moduleInfo snapshot. */
export function fileState(info: ModuleInfo | undefined, table: WorkerTable): string | undefined {
  if (info === undefined) {
    return undefined;
  }
  return table.state(info.sessionKey) ?? (info.workerState === 'dead' ? 'cold' : info.workerState);
}

export function statusText(table: WorkerTable, state: string | undefined): string {
  const icon = state === 'importing' || state === 'starting' ? '$(sync~spin)' : '$(flame)';
  const file = state === undefined ? '' : ` · file: ${state}`;
  return `${icon} ${table.warm} warm · ${formatMemory(table.memoryMb)}${file}`;
}

export function statusTooltip(table: WorkerTable, info: ModuleInfo | undefined): string {
  const lines = [`lean-batchd: ${table.warm} warm Lean workers using ${formatMemory(table.memoryMb)}`];
  if (info !== undefined) {
    lines.push(
      `${info.module ?? info.path}: ${sessionLabel(info.sessionKey)} (${fileState(info, table)})`,
      `imports ${info.imports.join(', ') || '(none)'}; ${info.closureSize} modules loaded; ` +
        `${info.sharing} file${info.sharing === 1 ? '' : 's'} share this header`,
    );
  }
  return lines.join('\n');
}
