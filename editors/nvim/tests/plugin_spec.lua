-- Headless tests of the plugin against the real daemon (SIMULATED REPL) on a copy of
-- examples/demo. Run by tests/editors/test_nvim.py on each Neovim it finds:
--   nvim --headless -u NONE -c 'luafile tests/plugin_spec.lua' -c 'cquit 2'
-- Environment: LEAN_BATCHD_PYTHON, LEAN_BATCHD_TEST_PROJECT, LEAN_BATCHD_TEST_SOCKET.
-- Exits 0 when every test passed, 1 when one failed; a Lua error outside a test is
-- caught too (Neovim 0.7 would otherwise hang), and the trailing `cquit 2` guards the rest.

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h')
vim.opt.runtimepath:prepend(here)
vim.cmd('filetype plugin on')
vim.cmd('runtime plugin/lean_batchd.lua')

local python = assert(os.getenv('LEAN_BATCHD_PYTHON'), 'LEAN_BATCHD_PYTHON is unset')
local project = assert(os.getenv('LEAN_BATCHD_TEST_PROJECT'), 'LEAN_BATCHD_TEST_PROJECT is unset')
local socket = assert(os.getenv('LEAN_BATCHD_TEST_SOCKET'), 'LEAN_BATCHD_TEST_SOCKET is unset')
local WAIT = 20000

local results, failed = {}, 0

local function out(line)
  io.stdout:write(line .. '\n')
end

local function eq(a, b, what)
  if not vim.deep_equal(a, b) then
    error(string.format('%s: expected %s, got %s', what or 'value', vim.inspect(b), vim.inspect(a)), 2)
  end
end

local function truthy(v, what)
  if not v then
    error((what or 'condition') .. ' did not hold', 2)
  end
  return v
end

local function wait_for(what, f)
  if not vim.wait(WAIT, function()
    local ok, v = pcall(f)
    return ok and v and true or false
  end, 20) then
    error('timed out waiting for ' .. what, 2)
  end
end

local function buffer_lines(name)
  local bufnr = vim.fn.bufnr(name)
  truthy(bufnr ~= -1, 'buffer ' .. name .. ' exists')
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
end

local function test(name, f)
  local ok, err = pcall(f)
  if ok then
    out('ok    ' .. name)
  else
    failed = failed + 1
    out('FAIL  ' .. name .. '\n      ' .. tostring(err))
  end
  table.insert(results, { name = name, ok = ok })
end

local lb = require('lean_batchd')
local config = require('lean_batchd.config')
local client = require('lean_batchd.client')
local render = require('lean_batchd.render')
local lemmas = project .. '/src/Demo/Lemmas.lean'

local function main()
  test('configuration: defaults, overrides, and bad values', function()
    eq(config.cmd(config.set({})), { 'lean-batchd', 'connect' }, 'default command')
    local c = config.set({ python = '/py', mode = 'stdio', memory_budget_mb = 2048, prewarm_on_open = false, args = { '-v' } })
    eq(config.cmd(c), { '/py', '-m', 'lean_batchd', 'serve', '--stdio', '--memory-budget', '2048', '--no-prewarm', '-v' })
    local notified = {}
    local notify = vim.notify
    vim.notify = function(msg)
      table.insert(notified, msg)
    end
    c = config.set({ mode = 'tcp' })
    vim.notify = notify
    eq(c.mode, 'connect', 'mode after a bad value')
    truthy(notified[1] and notified[1]:find('invalid configuration', 1, true), 'the bad value was reported')
  end)

  test('the Lake root is found from a file, and dependencies belong to their project', function()
    eq(client.root(lemmas), project)
    eq(client.root(project .. '/.lake/packages/helper/Helper.lean'), project)
    eq(client.root('/'), nil)
  end)

  test('rendering: a run reply as lines and quickfix items', function()
    local lines, items = render.run('#check x', {
      elapsedMs = 2,
      sessionKey = 'k',
      simulated = true,
      failure = vim.NIL,
      messages = { { severity = 'error', message = 'bad', range = { start = { line = 1, character = 2 }, ['end'] = { line = 1, character = 5 } } } },
    }, '/f.lean')
    eq(lines, { '> #check x  (2 ms, session k, SIMULATED REPL)', '2:3 error: bad' })
    eq(render.session('0123456789abcdef'), 'session 01234567')
    eq(items[1].lnum, 2)
    eq(items[1].col, 3)
    eq(items[1].type, 'E')
  end)

  vim.g.lean_batchd_config = { python = python, args = { '--socket', socket, '--simulate' } }
  lb.setup({})

  local bufnr
  test('attaches to a Lean buffer in a Lake project and learns its session', function()
    vim.cmd('edit ' .. vim.fn.fnameescape(lemmas))
    bufnr = vim.api.nvim_get_current_buf()
    eq(vim.bo[bufnr].filetype, 'lean', 'filetype')
    wait_for('the client to attach', function()
      return client.get(bufnr)
    end)
    local c = client.get(bufnr)
    wait_for('the client to initialize', function()
      return c.initialized
    end)
    eq(c.config.root_dir, project, 'root_dir')
    wait_for('moduleInfo for the buffer', function()
      return client.info[bufnr]
    end)
    eq(client.info[bufnr].module, 'Demo.Lemmas')
  end)

  test('prewarms on open; the statusline follows workerChanged', function()
    local key = client.info[bufnr].sessionKey
    wait_for('the session to be warm', function()
      return client.workers[key] and client.workers[key].state == 'warm'
    end)
    local line = lb.statusline(bufnr)
    truthy(line:find('1 warm', 1, true) and line:find('· warm', 1, true), 'statusline ' .. line)
  end)

  test(':LeanBatchdPrewarm answers with the session', function()
    local result = lb.prewarm()
    eq(result.sessionKey, client.info[bufnr].sessionKey)
    vim.cmd('LeanBatchdPrewarm')
  end)

  test(':LeanBatchdPlan shows the plan in a scratch buffer', function()
    vim.cmd('LeanBatchdPlan')
    local text = buffer_lines('lean-batchd://plan')
    truthy(text:find('lean-batchd plan for ' .. project, 1, true), 'plan header in\n' .. text)
    truthy(text:find('    Demo.Lemmas', 1, true), 'Demo.Lemmas listed')
    eq(vim.api.nvim_get_current_buf(), bufnr, 'focus stays on the Lean file')
  end)

  test(':LeanBatchdRun puts messages in a scratch buffer and the quickfix list', function()
    vim.cmd('LeanBatchdRun theorem t : True := sorry')
    local text = buffer_lines('lean-batchd://run')
    truthy(text:find('SIMULATED REPL', 1, true), 'the simulated REPL is labelled in\n' .. text)
    local qf = vim.fn.getqflist({ title = 1, items = 1 })
    eq(qf.title, 'lean-batchd: theorem t : True := sorry')
    truthy(#qf.items >= 1, 'quickfix items')
    eq(qf.items[1].bufnr, bufnr, 'quickfix points at the file')
    eq(qf.items[1].type, 'W', 'a sorry is a warning')
  end)

  test(':LeanBatchdStatus lists the project and the warm worker', function()
    vim.cmd('LeanBatchdStatus')
    local text = buffer_lines('lean-batchd://status')
    truthy(text:find('(SIMULATED REPL)', 1, true), 'simulated label in\n' .. text)
    truthy(text:find('project demo at ' .. project, 1, true), 'project line')
    truthy(text:find(render.session(client.info[bufnr].sessionKey) .. ' warm', 1, true), 'worker line')
    truthy(text:find('daemon pid ', 1, true), 'the daemon pid')
  end)

  test('the header code lens shows the session state', function()
    wait_for('a code lens', function()
      vim.lsp.codelens.refresh()
      local lenses = vim.lsp.codelens.get(bufnr)
      return #lenses > 0 and lenses[1].command and lenses[1].command.title:find('lean-batchd', 1, true)
    end)
  end)

  test('a header edit on disk gives planChanged and diagnostics, then clears them', function()
    local seen = nil
    vim.api.nvim_create_autocmd('User', {
      pattern = 'LeanBatchdPlanChanged',
      once = true,
      callback = function()
        seen = true
      end,
    })
    local scratch = project .. '/src/Demo/Scratch.lean'
    local original = table.concat(vim.fn.readfile(scratch), '\n') .. '\n'
    local f = assert(io.open(scratch, 'w'))
    f:write('import Helper.Gone\n' .. original)
    f:close()
    wait_for('planChanged', function()
      return seen and client.plan_changes[vim.uri_from_fname(project)]
    end)
    local other = vim.uri_to_bufnr(vim.uri_from_fname(scratch))
    wait_for('an unresolved-import diagnostic', function()
      for _, d in ipairs(vim.diagnostic.get(other)) do
        if d.source == 'lean-batchd' and d.code == 'unresolved-import' and d.lnum == 0 then
          return true
        end
      end
    end)
    f = assert(io.open(scratch, 'w'))
    f:write(original)
    f:close()
    wait_for('the diagnostic to clear', function()
      return #vim.diagnostic.get(other) == 0
    end)
  end)

  test('a header edited in the unsaved buffer moves the file to another session', function()
    local before = client.info[bufnr].sessionKey
    vim.api.nvim_buf_set_lines(bufnr, 0, 0, false, { 'import Demo.Basic' })
    vim.api.nvim_exec_autocmds('TextChanged', { buffer = bufnr })
    wait_for('the new session key', function()
      return client.info[bufnr] and client.info[bufnr].sessionKey ~= before and client.info[bufnr].unsaved
    end)
    truthy(vim.tbl_contains(client.info[bufnr].imports, 'import Demo.Basic'), 'the buffer header is used')
    vim.api.nvim_buf_set_lines(bufnr, 0, 1, false, {})
    vim.api.nvim_exec_autocmds('TextChanged', { buffer = bufnr })
    wait_for('the old session key', function()
      return client.info[bufnr] and client.info[bufnr].sessionKey == before
    end)
  end)

  test('an import broken and fixed in the unsaved buffer is flagged and cleared without :w', function()
    local function flagged()
      for _, d in ipairs(vim.diagnostic.get(bufnr)) do
        if d.source == 'lean-batchd' and d.code == 'unresolved-import' and d.lnum == 0 then
          return true
        end
      end
      return false
    end
    vim.api.nvim_buf_set_lines(bufnr, 0, 0, false, { 'import Demo.Gone' })
    vim.api.nvim_exec_autocmds('TextChanged', { buffer = bufnr })
    wait_for('the unresolved import to be flagged', flagged)
    vim.api.nvim_buf_set_lines(bufnr, 0, 1, false, {})
    vim.api.nvim_exec_autocmds('TextChanged', { buffer = bufnr })
    wait_for('the flag to clear', function()
      return not flagged()
    end)
  end)

  if vim.fn.has('nvim-0.8') == 1 then
    test(':checkhealth lean_batchd reports the package, the daemon and the missing REPL', function()
      vim.cmd('checkhealth lean_batchd')
      local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
      vim.cmd('bwipeout!')
      truthy(text:find('lean-batchd 0.', 1, true), 'version in\n' .. text)
      truthy(text:find('Lake project demo at ' .. project, 1, true), 'project in\n' .. text)
      truthy(text:find('no Lean REPL', 1, true), 'REPL note in\n' .. text)
      truthy(text:find('SIMULATED REPL: not Lean', 1, true), 'the simulated daemon in use in\n' .. text)
    end)
  end

  test('commands from the plugin\'s own split act on the Lean buffer, starting no client', function()
    vim.cmd('LeanBatchdStatus')
    vim.fn.win_gotoid(vim.fn.bufwinid('lean-batchd://status'))
    eq(vim.api.nvim_buf_get_name(0), 'lean-batchd://status', 'in the status split')
    local before = #(vim.lsp.get_clients and vim.lsp.get_clients({ name = client.NAME }) or vim.lsp.get_active_clients())
    vim.cmd('LeanBatchdPlan')
    local text = buffer_lines('lean-batchd://plan')
    truthy(text:find('lean-batchd plan for ' .. project, 1, true), 'the Lean buffer\'s plan in\n' .. text)
    local after = #(vim.lsp.get_clients and vim.lsp.get_clients({ name = client.NAME }) or vim.lsp.get_active_clients())
    eq(after, before, 'clients')
    vim.cmd('wincmd p')
  end)

  test('the code lens follows the session to warm without a redraw', function()
    vim.cmd('buffer ' .. bufnr)
    lb.evict()
    wait_for('the lens to say cold', function()
      local lenses = vim.lsp.codelens.get(bufnr)
      return #lenses > 0 and lenses[1].command.title:find('cold', 1, true)
    end)
    lb.prewarm()
    wait_for('the lens to say warm', function()
      local lenses = vim.lsp.codelens.get(bufnr)
      return #lenses > 0 and lenses[1].command.title:find('lean-batchd: warm', 1, true)
    end)
  end)

  test(':LeanBatchdEvict stops the warm worker', function()
    vim.cmd('buffer ' .. bufnr)
    local result = lb.evict()
    eq(result.evicted, 1, 'workers evicted')
  end)

  local c = client.get(bufnr)
  if c then
    client.request_sync(c, '$/leanBatchd/stopDaemon', vim.empty_dict(), 5000, bufnr)
  end
  out(string.format('%d passed, %d failed', #results - failed, failed))
end

local ok, err = pcall(main)
if not ok then
  out('ERROR ' .. tostring(err))
  vim.cmd('cquit 1')
end
vim.cmd(failed == 0 and 'qall!' or 'cquit 1')
