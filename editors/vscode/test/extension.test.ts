import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as vscode from 'vscode';
import type { BatchNode } from '../src/batches';
import { recorded } from './vscode-stub';

/** The language client, replaced: `vscode-languageclient` requires the real `vscode` at load time. */
const clients: FakeClient[] = [];
const answers: Record<string, (params: any) => unknown> = {};

class FakeClient {
  handlers = new Map<string, (params: unknown) => void>();
  requests: [string, unknown][] = [];
  stopped = false;
  constructor(
    readonly id: string,
    readonly name: string,
    readonly server: { command: string; args: string[]; transport?: unknown },
    readonly options: { documentSelector: unknown; initializationOptions: unknown },
  ) {
    clients.push(this);
  }
  onNotification(type: { method: string }, h: (p: unknown) => void) {
    this.handlers.set(type.method, h);
  }
  lensRefreshes = 0;
  async start() {}
  getFeature(method: string) {
    if (method !== 'textDocument/codeLens') throw new Error(method);
    return { getProvider: () => ({ onDidChangeCodeLensEmitter: { fire: () => this.lensRefreshes++ } }) };
  }
  async stop() {
    this.stopped = true;
  }
  async sendRequest(type: { method: string }, params: unknown) {
    this.requests.push([type.method, params]);
    const answer = answers[type.method];
    if (answer === undefined) throw new Error(`no answer for ${type.method}`);
    return answer(params);
  }
}

vi.mock('vscode-languageclient/node', () => ({
  LanguageClient: FakeClient,
  CodeLensRequest: { method: 'textDocument/codeLens' },
}));

/** A `lean-batchd` on PATH: the extension looks for its program before it starts a client. */
const bin = mkdtempSync(join(tmpdir(), 'lean-batchd-bin-'));
writeFileSync(join(bin, 'lean-batchd'), '#!/bin/sh\n');
chmodSync(join(bin, 'lean-batchd'), 0o755);
process.env.PATH = `${bin}:${process.env.PATH}`;

const { activate } = await import('../src/extension');
const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

const status = (workers: unknown[] = []) => ({
  projects: [],
  pool: { workers, queueDepth: 0, chargedMb: 0, budgetMb: null, counters: {} },
  simulated: true,
  connections: 1,
});
const project = { root: '/work/project', name: 'demo', modules: 3, batches: 2, fingerprint: 'f', repl: null, watching: true };
const leanFile = {
  document: { uri: vscode.Uri.file('/work/project/Demo/A.lean'), languageId: 'lean4' },
} as unknown as vscode.TextEditor;
const context = () => ({ subscriptions: [] as { dispose(): unknown }[] }) as unknown as vscode.ExtensionContext;

beforeEach(() => {
  clients.length = 0;
  recorded.commands.clear();
  recorded.diagnostics.clear();
  recorded.errors.length = 0;
  recorded.settings = {};
  vscode.window.activeTextEditor = undefined;
  Object.assign(answers, {
    '$/leanBatchd/projects': () => [project],
    '$/leanBatchd/status': () => status(),
    '$/leanBatchd/moduleInfo': (p: { textDocument: { uri: string } }) => ({
      uri: p.textDocument.uri, path: '/work/project/Demo/A.lean', module: 'Demo.A', library: 'Demo',
      imports: ['Demo.Basic'], headerEnd: { line: 2, column: 0 }, closureSize: 1, batchId: 'k1',
      sessionKey: 'k1', workerState: 'cold', workerMemoryMb: null, sharing: 2, unsaved: false, diagnostics: [],
    }),
  });
});

describe('activate', () => {
  it('starts the shared daemon for lean4 files and registers every contributed command', async () => {
    recorded.settings = { memoryBudgetMb: 4096 };
    const api = await activate(context());
    expect(clients).toHaveLength(1);
    const client = clients[0];
    expect(client.server).toMatchObject({ command: join(bin, 'lean-batchd'), args: ['connect', '--memory-budget', '4096'] });
    expect(client.server.transport).toBeUndefined(); // with TransportKind.stdio the client appends --stdio
    expect(client.options.documentSelector).toEqual([{ language: 'lean4', scheme: 'file' }]);
    expect(client.options.initializationOptions).toEqual({ prewarmOnOpen: true });
    const contributed = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
    expect([...recorded.commands.keys()].sort()).toEqual(contributed);
    expect(recorded.treeProviders.get('leanBatchd.batches')).toBe(api.tree);
    expect(recorded.executed).toContainEqual(['setContext', 'leanBatchd.active', true]);
  });

  it('starts no client for a program that is not there, and says once what to fix', async () => {
    recorded.settings = { executable: '/nonexistent/lean-batchd' };
    const api = await activate(context());
    expect(clients).toHaveLength(0);
    expect(api.daemon.client).toBeUndefined();
    expect(recorded.errors).toHaveLength(1);
    expect(recorded.errors[0]).toContain('/nonexistent/lean-batchd does not exist (setting `leanBatchd.executable`)');
  });

  it('never redeclares the lean4 language and activates on Lean files and Lake projects', () => {
    expect(manifest.contributes.languages).toBeUndefined();
    expect(manifest.activationEvents).toEqual([
      'onLanguage:lean4',
      'workspaceContains:lakefile.lean',
      'workspaceContains:lakefile.toml',
    ]);
    const keys = Object.keys(manifest.contributes.configuration.properties);
    expect(keys.every((k) => k.startsWith('leanBatchd.'))).toBe(true);
    expect(keys).toContain('leanBatchd.trace.server');
  });

  it('follows workerChanged and the active file in the status bar', async () => {
    vscode.window.activeTextEditor = leanFile;
    const api = await activate(context());
    const item = recorded.statusBarItems.at(-1)!;
    expect(item.text).toBe('$(flame) 0 warm · 0 MB · file: cold');
    clients[0].handlers.get('$/leanBatchd/workerChanged')!({ sessionKey: 'k1', state: 'importing', pid: 7, memoryMb: 20, imports: [], requests: 0 });
    expect(item.text).toBe('$(sync~spin) 0 warm · 20 MB · file: importing');
    clients[0].handlers.get('$/leanBatchd/workerChanged')!({ sessionKey: 'k1', state: 'warm', pid: 7, memoryMb: 2048, imports: [], requests: 0 });
    expect(item.text).toBe('$(flame) 1 warm · 2.0 GB · file: warm');
    await api.statusBar.follow(undefined);
    expect(item.text).toBe('$(flame) 1 warm · 2.0 GB');
  });

  it('refetches a project’s batches after planChanged', async () => {
    let version = 0;
    answers['$/leanBatchd/plan'] = () => ({
      profile: 'header', strategy: 'exact', diagnostics: [],
      stats: { modules: 1, batches: 1, importedModulesTotal: 0, naiveImportedModulesTotal: 0, largestBatch: 1, largestClosure: 0 },
      batches: [{ id: `b${++version}`, sessionKey: 'k', target: null, imports: [], fingerprint: 'f', closureSize: 0,
        modules: [{ module: 'Demo.A', uri: 'file:///work/project/Demo/A.lean', library: 'Demo' }] }],
    });
    const api = await activate(context());
    const [root] = await api.tree.getChildren();
    expect((await api.tree.getChildren(root)).map((b: BatchNode) => b.kind === 'batch' && b.id)).toEqual(['b1']);
    expect((await api.tree.getChildren(root)).map((b: BatchNode) => b.kind === 'batch' && b.id)).toEqual(['b1']);
    let fired = 0;
    api.tree.onDidChangeTreeData(() => fired++);
    clients[0].handlers.get('$/leanBatchd/planChanged')!({
      root: 'file:///work/project', fingerprint: 'g', diff: { added: [], removed: [], changed: [], unchangedCount: 0 },
    });
    expect(fired).toBe(1);
    const batches = await api.tree.getChildren(root);
    expect(batches.map((b: BatchNode) => b.kind === 'batch' && b.id)).toEqual(['b2']);
    const [module] = await api.tree.getChildren(batches[0]);
    const item = api.tree.getTreeItem(module);
    expect(item.command).toMatchObject({ command: 'vscode.open' });
  });

  it('runs a Lean command in the file’s context: output and diagnostics', async () => {
    vscode.window.activeTextEditor = leanFile;
    answers['$/leanBatchd/run'] = (p: { command: string }) => ({
      uri: 'file:///work/project/Demo/A.lean', path: '/work/project/Demo/A.lean', sessionKey: 'k1', reply: {},
      failure: null, elapsedMs: 3, simulated: true,
      messages: [{ severity: 'error', message: `bad: ${p.command}`, range: { start: { line: 5, character: 0 }, end: { line: 5, character: 4 } } }],
    });
    await activate(context());
    recorded.inputBoxAnswers.push('#check foo');
    await recorded.commands.get('leanBatchd.runCommand')!();
    expect(clients[0].requests).toContainEqual([
      '$/leanBatchd/run',
      { textDocument: { uri: 'file:///work/project/Demo/A.lean' }, command: '#check foo' },
    ]);
    const [d] = recorded.diagnostics.get('file:///work/project/Demo/A.lean')!;
    expect(d).toMatchObject({ message: 'bad: #check foo', severity: vscode.DiagnosticSeverity.Error });
    expect(recorded.outputs.get('lean-batchd: run')!.join('\n')).toContain('6:1 error: bad: #check foo');
  });

  it('turns daemon errors and a missing Lean file into messages', async () => {
    await activate(context());
    await recorded.commands.get('leanBatchd.prewarmFile')!();
    expect(recorded.errors).toEqual(['lean-batchd: open a Lean file first']);
    vscode.window.activeTextEditor = leanFile;
    answers['$/leanBatchd/evict'] = () => {
      throw new Error('no Lake project holds /work/project/Demo/A.lean');
    };
    await recorded.commands.get('leanBatchd.evictSession')!();
    expect(recorded.errors.at(-1)).toBe('lean-batchd: no Lake project holds /work/project/Demo/A.lean');
  });

  it('restarts the shared daemon itself on Restart daemon, once the old one has exited', async () => {
    const old = spawn('sleep', ['30']);
    answers['$/leanBatchd/status'] = () => ({ ...status(), daemon: { pid: old.pid } });
    answers['$/leanBatchd/stopDaemon'] = () => {
      setTimeout(() => old.kill(), 300);
      return { stopping: true };
    };
    await activate(context());
    const began = Date.now();
    await recorded.commands.get('leanBatchd.restartDaemon')!();
    expect(Date.now() - began).toBeGreaterThanOrEqual(250);
    expect(old.exitCode !== null || old.signalCode !== null).toBe(true);
    expect(clients).toHaveLength(2);
    expect(clients[0].requests.map((r) => r[0])).toContain('$/leanBatchd/stopDaemon');
    expect(clients[0].stopped).toBe(true);
  });
});
