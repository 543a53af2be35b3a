-- :checkhealth lean_batchd: the Neovim, the lean-batchd program, the daemon, and the Lean REPL.
local M = {}

local h = vim.health or require('health')
local start = h.start or h.report_start
local ok = h.ok or h.report_ok
local warn = h.warn or h.report_warn
local error = h.error or h.report_error
local info = h.info or h.report_info

function M.check()
  local config = require('lean_batchd.config')
  local client = require('lean_batchd.client')
  start('lean-batchd')
  if vim.fn.has('nvim-0.8') == 1 then
    ok('Neovim ' .. tostring(vim.version()))
  else
    warn('Neovim older than 0.8: supported, but `:checkhealth` and `vim.lsp.start` need 0.8')
  end
  local cmd = config.cmd()
  if vim.fn.executable(cmd[1]) == 0 then
    error(cmd[1] .. ' is not executable', { 'pip install lean-batchd', 'or set `python` in vim.g.lean_batchd_config' })
    return
  end
  local prefix = vim.list_slice(cmd, 1, config.get().python and 3 or 1)
  local version = vim.fn.system(vim.list_extend(vim.deepcopy(prefix), { '--version' }))
  if vim.v.shell_error ~= 0 then
    error('the lean-batchd Python package does not run: ' .. version)
    return
  end
  ok(vim.trim(version) .. ' (' .. table.concat(prefix, ' ') .. ')')
  local where = client.roots()[1] or vim.fn.getcwd()
  local out = vim.fn.system(vim.list_extend(vim.deepcopy(prefix), { 'doctor', '--json', where }))
  local decoded, report = pcall(vim.json.decode, out)
  if not decoded or type(report) ~= 'table' then
    error('`lean-batchd doctor` answered something unreadable: ' .. out)
    return
  end
  -- The daemon this Neovim talks to, asked through its own client; else what runs for the user.
  local live = client.get(client.last_lean_buffer() or 0)
  local reply = live and client.request_sync(live, '$/leanBatchd/status', vim.empty_dict(), 5000)
  local status = reply and reply.result
  if status then
    local daemon = status.daemon or {}
    ok(string.format(
      'connected to the daemon (pid %s%s%s)',
      tostring(daemon.pid or '?'),
      daemon.address and (' on ' .. daemon.address) or '',
      status.simulated and ', SIMULATED REPL: not Lean' or ''
    ))
  end
  for _, daemon in ipairs(report.daemons or {}) do
    local kind = daemon.simulated and 'the SIMULATED daemon' or 'the shared daemon'
    if daemon.running then
      ok(string.format('%s is running on %s (pid %s)', kind, daemon.socket, tostring(daemon.pid)))
    elseif not daemon.simulated then
      info(kind .. ' is not running on ' .. daemon.socket .. ' (editors start it on demand)')
    end
  end
  local project = report.project
  if project.missing then
    info('no Lake project at ' .. where .. ': ' .. project.missing)
    return
  end
  ok(string.format('Lake project %s at %s (%s)', project.name, project.root, project.toolchain.spec))
  if report.repl.command then
    ok('Lean REPL: ' .. table.concat(report.repl.command, ' '))
  elseif status and status.simulated then
    info('no Lean REPL here; the daemon in use runs the SIMULATED REPL instead: ' .. report.repl.missing)
  else
    warn('no Lean REPL: warm sessions cannot start', { report.repl.missing })
  end
end

return M
