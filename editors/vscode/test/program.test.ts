import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateProgram } from '../src/program';

const dir = mkdtempSync(join(tmpdir(), 'lean-batchd-program-'));
writeFileSync(join(dir, 'lean-batchd'), '#!/bin/sh\n');
chmodSync(join(dir, 'lean-batchd'), 0o755);
writeFileSync(join(dir, 'plain'), '');

describe('locating the daemon program', () => {
  it('finds a bare name on PATH, as spawn does', () => {
    expect(locateProgram('lean-batchd', `/nowhere:${dir}`, undefined)).toEqual({ path: join(dir, 'lean-batchd') });
    expect(locateProgram('lean-batchd', '/nowhere', undefined)).toEqual({ problem: '`lean-batchd` was not found on PATH' });
  });

  it('takes a path as it is, relative to the workspace folder', () => {
    expect(locateProgram('./lean-batchd', '', dir)).toEqual({ path: join(dir, 'lean-batchd') });
    expect(locateProgram('/nonexistent/lean-batchd', dir, dir)).toEqual({ problem: '/nonexistent/lean-batchd does not exist' });
    expect(locateProgram(join(dir, 'plain'), '', dir)).toEqual({ problem: `${join(dir, 'plain')} is not executable` });
    expect(locateProgram(dir + '/', '', dir)).toEqual({ problem: `${dir}/ is not a file` });
  });
});
