/**
 * The daemon's LSP contract, as the extension and its end-to-end test use it.
 *
 * Only `vscode-languageserver-protocol` is imported here, never `vscode` or
 * `vscode-languageclient` (which load `vscode`), so that the end-to-end test can
 * drive the real daemon with these very types from plain Node. A rename on either
 * side fails that test. The Python side is `lean_batchd/server/methods.py`.
 */
import { NotificationType, RequestType } from 'vscode-languageserver-protocol';

/** A session's id as people see it everywhere (`lean-batchd plan`, `check`, `status`, Neovim). */
export function sessionLabel(key: string): string {
  return `session ${key.slice(0, 8)}`;
}

export interface TextDocumentRef {
  textDocument: { uri: string };
}

export interface ProjectInfo {
  root: string;
  name: string;
  modules: number;
  batches: number;
  fingerprint: string;
  repl: string[] | null;
  watching: boolean;
}

export interface ModuleEntry {
  module: string;
  uri: string;
  library: string | null;
  batchId: string | null;
}

export interface LakeDiagnostic {
  code: string;
  severity: string;
  message: string;
  path?: string | null;
  line?: number | null;
  column?: number | null;
}

export interface ModuleInfo {
  uri: string;
  path: string;
  module: string | null;
  library: string | null;
  imports: string[];
  headerEnd: { line: number; column: number };
  closureSize: number;
  batchId: string | null;
  sessionKey: string;
  workerState: string;
  workerMemoryMb: number | null;
  sharing: number;
  unsaved: boolean;
  diagnostics: LakeDiagnostic[];
}

export interface PlanParams {
  uri?: string;
  profile?: 'header' | 'module';
  strategy?: 'exact' | 'cover';
  maxClosure?: number;
}

export interface PlanBatch {
  id: string;
  sessionKey: string;
  target: string | null;
  imports: string[];
  modules: { module: string; uri: string; library: string | null }[];
  fingerprint: string;
  closureSize: number;
}

export interface PlanResult {
  profile: string;
  strategy: string;
  batches: PlanBatch[];
  stats: {
    modules: number;
    batches: number;
    importedModulesTotal: number;
    naiveImportedModulesTotal: number;
    largestBatch: number;
    largestClosure: number;
  };
  diagnostics: LakeDiagnostic[];
}

export interface FingerprintResult {
  digest: string;
  toolchain: string;
  sourceCount: number;
  sourceDigest: string;
}

export interface PrewarmParams {
  textDocument?: { uri: string };
  sessionKey?: string;
}

export interface PrewarmResult {
  sessionKey: string;
  started: boolean;
}

export interface RunParams extends TextDocumentRef {
  command: string;
  timeoutMs?: number;
}

export interface LspRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

export interface RunMessage {
  severity: string;
  range: LspRange;
  message: string;
}

export interface RunResult {
  uri: string;
  path: string;
  sessionKey: string;
  messages: RunMessage[];
  reply: unknown;
  failure: { kind: string; message: string } | null;
  elapsedMs: number;
  simulated: boolean;
}

export interface WorkerStatus {
  id: number;
  sessionKey: string;
  state: string;
  pid: number | null;
  imports: string[];
  requests: number;
  memory: { chargeMb: number };
}

export interface StatusResult {
  projects: ProjectInfo[];
  pool: {
    workers: WorkerStatus[];
    queueDepth: number;
    chargedMb: number;
    budgetMb: number | null;
    counters: Record<string, number>;
  };
  simulated: boolean;
  connections: number;
  /** The serving process (older daemons do not say). */
  daemon?: { pid?: number; address?: string };
}

export interface EvictParams {
  textDocument?: { uri: string };
  sessionKey?: string;
}

export interface BatchChange {
  id: string;
  addedModules: string[];
  removedModules: string[];
  changedModules: string[];
  reasons: string[];
}

export interface PlanChanged {
  root: string;
  fingerprint: string;
  diff: {
    added: { id: string; modules: string[] }[];
    removed: { id: string; modules: string[] }[];
    changed: BatchChange[];
    unchangedCount: number;
  };
}

export interface WorkerChanged {
  sessionKey: string;
  state: string;
  pid: number | null;
  memoryMb: number;
  imports: string[];
  requests: number;
}

type Params = Record<string, never>;

export const projects = new RequestType<Params, ProjectInfo[], void>('$/leanBatchd/projects');
export const modules = new RequestType<{ uri?: string }, ModuleEntry[], void>('$/leanBatchd/modules');
export const moduleInfo = new RequestType<TextDocumentRef, ModuleInfo, void>('$/leanBatchd/moduleInfo');
export const plan = new RequestType<PlanParams, PlanResult, void>('$/leanBatchd/plan');
export const fingerprint = new RequestType<{ uri?: string }, FingerprintResult, void>('$/leanBatchd/fingerprint');
export const prewarm = new RequestType<PrewarmParams, PrewarmResult, void>('$/leanBatchd/prewarm');
export const run = new RequestType<RunParams, RunResult, void>('$/leanBatchd/run');
export const status = new RequestType<Params, StatusResult, void>('$/leanBatchd/status');
export const evict = new RequestType<EvictParams, { evicted: number }, void>('$/leanBatchd/evict');
export const stopDaemon = new RequestType<Params, { stopping: boolean }, void>('$/leanBatchd/stopDaemon');
export const planChanged = new NotificationType<PlanChanged>('$/leanBatchd/planChanged');
export const workerChanged = new NotificationType<WorkerChanged>('$/leanBatchd/workerChanged');

/** The daemon's own command behind the header code lens (handled by the language client). */
export const PREWARM_LENS_COMMAND = 'leanBatchd.prewarm';

/** JSON-RPC error code of an engine failure (no project, no REPL, worker failed...). */
export const SERVER_ERROR = -32001;
