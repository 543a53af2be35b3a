/**
 * Keeps the header code lens in step with the pool. Plain logic: no `vscode` here.
 *
 * The daemon sends `workspace/codeLens/refresh` once a worker's new state is visible, and
 * VS Code schedules a new code lens query after its debounce (at least 250 ms). But VS Code
 * drops that scheduled query when the editor's text loses focus before it runs
 * (`CodeLensContribution`: `onDidBlurEditorText` → `scheduler.cancel()`, VS Code 1.100), and
 * asks again only when the editor is focused again or edited. So a click on the status bar,
 * the Lean batches view or the palette just after a session turned warm left its lens at
 * `warming…`. After each change this checks that VS Code did ask for lenses, and asks it again
 * if it did not, waiting a little longer each time (re-asking too soon would only push a
 * pending query back). Nothing is re-asked before VS Code's first query: it asks anyway, and
 * re-asking would only postpone it (its first debounce is long, ~1.5 s).
 */
export class LensFollower {
  private provided = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly refresh: () => void,
    private readonly checkMs = 280,
    private readonly tries = 4,
  ) {}

  /** VS Code asked for code lenses (the language client's middleware calls this). */
  asked(): void {
    this.provided++;
  }

  /** A session changed state: its lens must follow. */
  changed(): void {
    clearTimeout(this.timer);
    const seen = this.provided;
    if (seen === 0) {
      return;
    }
    let attempt = 1;
    const check = (): void => {
      if (this.provided !== seen || attempt > this.tries) {
        return;
      }
      this.refresh();
      attempt++;
      this.timer = setTimeout(check, this.checkMs * attempt);
    };
    this.timer = setTimeout(check, this.checkMs);
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
