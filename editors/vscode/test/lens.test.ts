import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LensFollower } from '../src/lens';

describe('the code lens follower', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('leaves it to VS Code when it asked for lenses after the change', () => {
    const refresh = vi.fn();
    const lenses = new LensFollower(refresh, 400);
    lenses.changed();
    vi.advanceTimersByTime(350);
    lenses.asked();
    vi.advanceTimersByTime(5000);
    expect(refresh).not.toHaveBeenCalled();
  });

  it('asks again, each time a little later, until VS Code asks for lenses', () => {
    const refresh = vi.fn();
    const lenses = new LensFollower(refresh, 400, 4);
    lenses.asked();
    lenses.changed();
    vi.advanceTimersByTime(400);
    expect(refresh).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(799);
    expect(refresh).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(refresh).toHaveBeenCalledTimes(2);
    lenses.asked();
    vi.advanceTimersByTime(10_000);
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it('gives up after a few tries (no editor shows a lens)', () => {
    const refresh = vi.fn();
    const lenses = new LensFollower(refresh, 400, 4);
    lenses.asked();
    lenses.changed();
    vi.advanceTimersByTime(60_000);
    expect(refresh).toHaveBeenCalledTimes(4);
  });

  it('never re-asks before VS Code’s first query, which would only postpone it', () => {
    const refresh = vi.fn();
    new LensFollower(refresh, 400, 4).changed();
    vi.advanceTimersByTime(60_000);
    expect(refresh).not.toHaveBeenCalled();
  });
});
