/**
 * End to end: the real Python daemon (`serve --stdio`, SIMULATED REPL), driven over
 * vscode-jsonrpc with the extension's own protocol module and data models, on a copy of
 * `examples/demo`. A method renamed or a field reshaped on either side fails here.
 */
import { spawn, ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMessageConnection,
  MessageConnection,
  NotificationType,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';
import { BatchModel, fileUri } from '../src/batches';
import * as p from '../src/protocol';
import { runReport } from '../src/runOutput';
import { WorkerTable } from '../src/workers';

const repo = resolve(__dirname, '../../..');

/** The Python that has lean_batchd: `LEAN_BATCHD_PYTHON` (the pytest wrapper sets it), else the repo's venv. */
function python(): string {
  const venv = join(repo, '.venv/bin/python');
  return process.env.LEAN_BATCHD_PYTHON ?? (existsSync(venv) ? venv : 'python3');
}

/** vscode-jsonrpc keeps one handler per method: these fan each notification out to waiters. */
const waiters = new Map<string, ((v: unknown) => void)[]>();

function listen<T>(type: NotificationType<T>): void {
  waiters.set(type.method, []);
  conn.onNotification(type, (v) => waiters.get(type.method)!.forEach((w) => w(v)));
}

/** Resolves with the first notification of `type` that `accept` takes; listening starts at once. */
function next<T>(type: NotificationType<T>, accept: (v: T) => boolean, ms = 20_000): Promise<T> {
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ${type.method} within ${ms} ms`)), ms);
    waiters.get(type.method)!.push((v) => {
      if (accept(v as T)) {
        clearTimeout(timer);
        done(v as T);
      }
    });
  });
}

let root: string;
let daemon: ChildProcessWithoutNullStreams;
let conn: MessageConnection;
let stderr = '';
const workers = new WorkerTable();
const exited = new Promise<number | null>((done) => {
  beforeAll(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'lean-batchd-e2e-')));
    cpSync(join(repo, 'examples/demo'), root, { recursive: true });
    daemon = spawn(python(), ['-m', 'lean_batchd', 'serve', '--stdio', '--simulate'], { cwd: root });
    daemon.stderr.on('data', (d) => (stderr += d));
    daemon.on('exit', (code) => done(code));
    conn = createMessageConnection(new StreamMessageReader(daemon.stdout), new StreamMessageWriter(daemon.stdin));
    listen(p.workerChanged);
    listen(p.planChanged);
    waiters.get(p.workerChanged.method)!.push((c) => workers.apply(c as p.WorkerChanged));
    conn.listen();
  });
});

afterAll(() => {
  if (daemon.exitCode === null) daemon.kill();
  rmSync(root, { recursive: true, force: true });
});

describe('the extension’s protocol against the real daemon', () => {
  it('initializes with the workspace folder', async () => {
    const init = await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: fileUri(root),
      workspaceFolders: [{ uri: fileUri(root), name: 'demo' }],
      capabilities: {},
      initializationOptions: { prewarmOnOpen: false },
    });
    expect(init).toHaveProperty('capabilities');
    await conn.sendNotification('initialized', {});
  });

  it('lists the project, its modules and its batches as the tree shows them', async () => {
    const projects = await conn.sendRequest(p.projects, {});
    expect(projects.map((x) => [x.name, x.root])).toEqual([['demo', root]]);
    const modules = await conn.sendRequest(p.modules, {});
    expect(modules.map((m) => m.module)).toContain('Demo.Basic');
    const plan = await conn.sendRequest(p.plan, { uri: fileUri(root) });
    const model = new BatchModel();
    model.setProjects(projects);
    model.setPlan(root, plan);
    const shown = model.roots().flatMap((r) => model.children(r)).flatMap((b) => model.children(b));
    expect(shown.map((n) => n.label).sort()).toEqual(modules.map((m) => m.module).sort());
    for (const m of modules) {
      const batch = plan.batches.find((b) => b.modules.some((x) => x.module === m.module))!;
      expect(m.batchId).toBe(batch.id);
      expect(batch.modules.find((x) => x.module === m.module)!.uri).toBe(m.uri);
    }
  });

  it('answers moduleInfo, warms the session, and runs a command in it', async () => {
    const uri = fileUri(join(root, 'src/Demo/Lemmas.lean'));
    const info = await conn.sendRequest(p.moduleInfo, { textDocument: { uri } });
    expect(info).toMatchObject({ uri, module: 'Demo.Lemmas', library: 'Demo', workerState: 'cold' });
    const warm = next(p.workerChanged, (c) => c.sessionKey === info.sessionKey && c.state === 'warm');
    const started = await conn.sendRequest(p.prewarm, { textDocument: { uri } });
    expect(started).toEqual({ sessionKey: info.sessionKey, started: true });
    await warm;
    expect(workers.state(info.sessionKey)).toBe('warm');
    const result = await conn.sendRequest(p.run, { textDocument: { uri }, command: '#check Nat' });
    expect(result).toMatchObject({ uri, sessionKey: info.sessionKey, simulated: true, failure: null });
    expect(runReport('#check Nat', result)).toContain('SIMULATED REPL');
    const status = await conn.sendRequest(p.status, {});
    const table = new WorkerTable();
    table.reset(status);
    expect(table.state(info.sessionKey)).toBe('warm');
    expect(status.simulated).toBe(true);
  });

  it('pushes planChanged when a header changes on disk', async () => {
    const file = join(root, 'src/Demo/Scratch.lean');
    const changed = next(p.planChanged, (c) => c.root === fileUri(root));
    writeFileSync(file, 'import Demo.Order\n\n' + readFileSync(file, 'utf8'));
    const change = await changed;
    const touched = [...change.diff.added, ...change.diff.removed].flatMap((b) => b.modules);
    const moved = change.diff.changed.flatMap((c) => [...c.addedModules, ...c.removedModules]);
    expect([...touched, ...moved]).toContain('Demo.Scratch');
    const model = new BatchModel();
    model.setProjects(await conn.sendRequest(p.projects, {}));
    model.setPlan(root, await conn.sendRequest(p.plan, { uri: fileUri(root) }));
    expect(model.invalidate(change)).toBe(root);
  });

  it('evicts the file’s session and rejects invalid params with -32602', async () => {
    const uri = fileUri(join(root, 'src/Demo/Lemmas.lean'));
    expect(await conn.sendRequest(p.evict, { textDocument: { uri } })).toEqual({ evicted: 1 });
    const bad = conn.sendRequest(p.moduleInfo, {} as p.TextDocumentRef);
    await expect(bad).rejects.toBeInstanceOf(ResponseError);
    await expect(bad).rejects.toMatchObject({ code: -32602 });
  });

  it('shuts down cleanly', async () => {
    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/Traceback/);
  });
});
