/**
 * The slice of the `vscode` API the extension touches, recording what it is asked to do: for
 * fast unit tests of the extension's own logic. What VS Code and the language client really do
 * with it is tested in a real VS Code (tests/editors/test_vscode_real.py).
 */
type Listener<T> = (e: T) => unknown;

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (l: Listener<T>) => {
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  };
  fire(e: T): void {
    for (const l of this.listeners) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly fsPath: string,
  ) {}
  static parse(s: string): Uri {
    const u = new URL(s);
    return new Uri(u.protocol.replace(':', ''), decodeURIComponent(u.pathname));
  }
  static file(path: string): Uri {
    return new Uri('file', path);
  }
  toString(): string {
    return 'file://' + this.fsPath.split('/').map(encodeURIComponent).join('/');
  }
}

export class Range {
  constructor(
    readonly startLine: number,
    readonly startCharacter: number,
    readonly endLine: number,
    readonly endCharacter: number,
  ) {}
}

export enum DiagnosticSeverity {
  Error = 0,
  Warning = 1,
  Information = 2,
  Hint = 3,
}

export class Diagnostic {
  source?: string;
  constructor(
    readonly range: Range,
    readonly message: string,
    readonly severity: DiagnosticSeverity,
  ) {}
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}

export class ThemeIcon {
  constructor(readonly id: string) {}
}

export class TreeItem {
  description?: string;
  tooltip?: string;
  contextValue?: string;
  iconPath?: ThemeIcon;
  resourceUri?: Uri;
  command?: { command: string; title: string; arguments?: unknown[] };
  constructor(
    readonly label: string,
    readonly collapsibleState: TreeItemCollapsibleState,
  ) {}
}

export interface TextDocument {
  uri: Uri;
  languageId: string;
}

/** What the tests read back. */
export const recorded = {
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as unknown[][],
  errors: [] as string[],
  statusBarItems: [] as { text: string; tooltip: string; shown: boolean }[],
  outputs: new Map<string, string[]>(),
  diagnostics: new Map<string, Diagnostic[]>(),
  treeProviders: new Map<string, unknown>(),
  inputBoxAnswers: [] as (string | undefined)[],
  settings: {} as Record<string, unknown>,
  activeEditorListeners: [] as Listener<unknown>[],
};

const disposable = { dispose: () => undefined };

function outputChannel(name: string) {
  const lines: string[] = [];
  recorded.outputs.set(name, lines);
  const log = (s: string) => lines.push(s);
  return { appendLine: log, info: log, error: log, warn: log, trace: log, debug: log, show: () => undefined, dispose: () => undefined };
}

export const window = {
  activeTextEditor: undefined as { document: TextDocument } | undefined,
  visibleTextEditors: [] as { document: TextDocument }[],
  createOutputChannel: outputChannel,
  createStatusBarItem: () => {
    const item = { text: '', tooltip: '', shown: false, name: '', command: '', show: () => (item.shown = true), dispose: () => undefined };
    recorded.statusBarItems.push(item);
    return item;
  },
  registerTreeDataProvider: (id: string, provider: unknown) => {
    recorded.treeProviders.set(id, provider);
    return disposable;
  },
  onDidChangeActiveTextEditor: (l: Listener<unknown>) => {
    recorded.activeEditorListeners.push(l);
    return disposable;
  },
  showErrorMessage: async (message: string) => {
    recorded.errors.push(message);
    return undefined;
  },
  showInputBox: async () => recorded.inputBoxAnswers.shift(),
  setStatusBarMessage: () => disposable,
};

export const workspace = {
  workspaceFolders: [{ uri: Uri.file('/work/project') }],
  getConfiguration: () => ({ get: (key: string) => recorded.settings[key] }),
  onDidChangeConfiguration: () => disposable,
  onDidChangeTextDocument: () => disposable,
  asRelativePath: (u: Uri) => u.fsPath,
};

export const commands = {
  registerCommand: (id: string, f: (...args: unknown[]) => unknown) => {
    if (recorded.commands.has(id)) throw new Error(`command '${id}' already exists`);
    recorded.commands.set(id, f);
    return { dispose: () => recorded.commands.delete(id) };
  },
  executeCommand: async (...args: unknown[]) => {
    recorded.executed.push(args);
    return undefined;
  },
};

export const languages = {
  createDiagnosticCollection: () => ({
    set: (uri: Uri, ds: Diagnostic[]) => recorded.diagnostics.set(uri.toString(), ds),
    dispose: () => undefined,
  }),
};
