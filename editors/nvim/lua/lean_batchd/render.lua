-- Daemon replies as buffer lines and quickfix items. Pure: no editor state here.
local M = {}

local function plural(n, word)
  return string.format('%d %s%s', n, word, n == 1 and '' or 's')
end

function M.memory(mb)
  if mb >= 1024 then
    return string.format('%.1f GB', mb / 1024)
  end
  return string.format('%d MB', math.floor(mb + 0.5))
end

function M.plan(plan, root)
  local s = plan.stats
  local lines = {
    string.format('lean-batchd plan for %s (%s profile, %s strategy)', root, plan.profile, plan.strategy),
    string.format(
      '%s in %s; %d modules imported in all (one session per module: %d)',
      plural(s.modules, 'module'),
      plural(s.batches, 'session'),
      s.importedModulesTotal,
      s.naiveImportedModulesTotal
    ),
    '',
  }
  for _, b in ipairs(plan.batches) do
    local imports = #b.imports == 0 and '(no imports)' or table.concat(b.imports, ', ')
    table.insert(lines, string.format('%s  %s  [loads %d]', b.id, imports, b.closureSize))
    for _, m in ipairs(b.modules) do
      table.insert(lines, '    ' .. m.module)
    end
  end
  for _, d in ipairs(plan.diagnostics or {}) do
    table.insert(lines, string.format('%s %s: %s', d.severity, d.code, d.message))
  end
  return lines
end

--- A session's id as people see it everywhere (`lean-batchd plan`, `check`, `status`).
function M.session(key)
  return 'session ' .. tostring(key):sub(1, 8)
end

function M.status(status)
  local daemon = status.daemon or {}
  local lines = {
    string.format(
      'lean-batchd daemon%s%s: %s',
      daemon.pid and (' pid ' .. daemon.pid) or '',
      status.simulated and ' (SIMULATED REPL)' or '',
      plural(status.connections or 0, 'connection')
    ),
  }
  for _, p in ipairs(status.projects) do
    table.insert(lines, string.format('project %s at %s: %d modules, %d sessions', p.name, p.root, p.modules, p.batches))
  end
  local pool = status.pool
  local budget = pool.budgetMb ~= vim.NIL and pool.budgetMb and (' of ' .. pool.budgetMb .. ' MB') or ''
  table.insert(
    lines,
    string.format('%s, %s charged%s, queue %d', plural(#pool.workers, 'worker'), M.memory(pool.chargedMb), budget, pool.queueDepth)
  )
  for _, w in ipairs(pool.workers) do
    table.insert(
      lines,
      string.format('  %s %-9s %s  %s', M.session(w.sessionKey), w.state, M.memory(w.memory.chargeMb), table.concat(w.imports, ', '))
    )
  end
  return lines
end

local QF_TYPE = { error = 'E', warning = 'W', info = 'I', information = 'I' }

--- A `run` reply as report lines and quickfix items (1-based lines, byte columns approximated
--- by UTF-16 ones, which agree on ASCII).
function M.run(command, result, filename)
  local failure = result.failure ~= vim.NIL and result.failure or nil
  local lines = {
    string.format(
      '> %s  (%s ms, %s%s)',
      command,
      tostring(result.elapsedMs),
      M.session(result.sessionKey),
      result.simulated and ', SIMULATED REPL' or ''
    ),
  }
  local items = {}
  if failure then
    table.insert(lines, string.format('failed: %s: %s', failure.kind, failure.message))
  end
  for _, m in ipairs(result.messages) do
    local lnum, col = m.range.start.line + 1, m.range.start.character + 1
    table.insert(lines, string.format('%d:%d %s: %s', lnum, col, m.severity, m.message))
    table.insert(items, {
      filename = filename,
      lnum = lnum,
      col = col,
      end_lnum = m.range['end'].line + 1,
      end_col = m.range['end'].character + 1,
      text = m.message,
      type = QF_TYPE[m.severity] or 'I',
    })
  end
  if not failure and #result.messages == 0 then
    table.insert(lines, '(no messages)')
  end
  return lines, items
end

function M.statusline(warm, memory_mb, state)
  local text = string.format('lean-batchd %d warm %s', warm, M.memory(memory_mb))
  if state then
    text = text .. ' · ' .. state
  end
  return text
end

return M
