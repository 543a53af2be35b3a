-- Settings: defaults, then `vim.g.lean_batchd_config`, then what `setup{}` was given.
local M = {}

M.defaults = {
  -- The lean-batchd program; ignored when `python` is set.
  executable = 'lean-batchd',
  -- A Python with lean-batchd installed: runs `python -m lean_batchd`.
  python = nil,
  -- 'connect' shares the per-user daemon and its warm workers; 'stdio' runs a private one.
  mode = 'connect',
  -- Extra arguments for `connect` / `serve --stdio`, e.g. { '--max-workers', '4' }.
  args = {},
  -- Memory (MB, private + swap) all warm workers may use together; nil: the daemon's default.
  memory_budget_mb = nil,
  -- Start a warm session for a Lean file's imports when it is opened.
  prewarm_on_open = true,
  -- Attach automatically to `lean` buffers in Lake projects.
  autostart = true,
  -- Show the header code lens (refreshed on enter, save and plan changes).
  codelens = true,
  -- A full command, overriding executable/python/mode/args (tests, wrappers).
  cmd = nil,
}

local current = nil

local function check(cfg)
  local ok, err = pcall(vim.validate, {
    executable = { cfg.executable, 'string' },
    python = { cfg.python, 'string', true },
    mode = {
      cfg.mode,
      function(v)
        return v == 'connect' or v == 'stdio'
      end,
      "'connect' or 'stdio'",
    },
    args = { cfg.args, 'table' },
    memory_budget_mb = { cfg.memory_budget_mb, 'number', true },
    prewarm_on_open = { cfg.prewarm_on_open, 'boolean' },
    autostart = { cfg.autostart, 'boolean' },
    codelens = { cfg.codelens, 'boolean' },
    cmd = { cfg.cmd, 'table', true },
  })
  return ok, err
end

--- Merges `opts` over the global and the defaults. A bad value is reported and the default kept.
function M.set(opts)
  local merged = vim.tbl_deep_extend('force', {}, M.defaults, vim.g.lean_batchd_config or {}, opts or {})
  local ok, err = check(merged)
  if not ok then
    vim.notify('lean-batchd: invalid configuration: ' .. tostring(err) .. '; using the defaults', vim.log.levels.ERROR)
    merged = vim.deepcopy(M.defaults)
  end
  current = merged
  return current
end

function M.get()
  return current or M.set()
end

--- The daemon command: `lean-batchd connect` (or `serve --stdio`) with the configured options.
function M.cmd(cfg)
  cfg = cfg or M.get()
  if cfg.cmd then
    return vim.deepcopy(cfg.cmd)
  end
  local cmd = cfg.python and { cfg.python, '-m', 'lean_batchd' } or { cfg.executable }
  if cfg.mode == 'stdio' then
    vim.list_extend(cmd, { 'serve', '--stdio' })
  else
    table.insert(cmd, 'connect')
  end
  if cfg.memory_budget_mb then
    vim.list_extend(cmd, { '--memory-budget', tostring(math.floor(cfg.memory_budget_mb)) })
  end
  if not cfg.prewarm_on_open then
    table.insert(cmd, '--no-prewarm')
  end
  return vim.list_extend(cmd, cfg.args)
end

return M
