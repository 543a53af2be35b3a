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
  local daemon = report.daemon
  if daemon.running then
    ok('the shared daemon is running on ' .. daemon.socket)
  else
    info('no shared daemon is running on ' .. daemon.socket .. ' (editors start it on demand)')
  end
  local project = report.project
  if project.missing then
    info('no Lake project at ' .. where .. ': ' .. project.missing)
    return
  end
  ok(string.format('Lake project %s at %s (%s)', project.name, project.root, project.toolchain.spec))
  if report.repl.command then
    ok('Lean REPL: ' .. table.concat(report.repl.command, ' '))
  else
    warn('no Lean REPL: warm sessions cannot start', { report.repl.missing })
  end
end

return M
