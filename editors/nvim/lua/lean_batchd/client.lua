-- The LSP client to the daemon: one per Lake root, started the way this Neovim supports,
-- and the state the daemon's notifications keep current.
local config = require('lean_batchd.config')

local M = {}

M.NAME = 'lean_batchd'
M.PLAN_CHANGED = '$/leanBatchd/planChanged'
M.WORKER_CHANGED = '$/leanBatchd/workerChanged'

local has_08 = vim.fn.has('nvim-0.8') == 1
local has_011 = vim.fn.has('nvim-0.11') == 1

--- sessionKey -> the latest workerChanged for it; dead and retiring workers leave.
M.workers = {}
--- bufnr -> the latest moduleInfo reply for it.
M.info = {}
--- The latest planChanged per root URI, for `User LeanBatchdPlanChanged` listeners.
M.plan_changes = {}

local GONE = { dead = true, retiring = true }

local function is_nil(v)
  return v == nil or v == vim.NIL
end

--- Where the daemon should treat a file as belonging: the nearest folder with a lakefile,
--- or, inside a dependency (`.lake/packages/X`), the project that holds it, as Lake does.
function M.root(path)
  local packages = path:find('/.lake/packages/', 1, true)
  local dir = packages and path:sub(1, packages - 1) or vim.fn.fnamemodify(path, ':h')
  while dir and dir ~= '' do
    for _, marker in ipairs({ 'lakefile.lean', 'lakefile.toml' }) do
      if vim.loop.fs_stat(dir .. '/' .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then
      return nil
    end
    dir = parent
  end
  return nil
end

--- Calls a client method the way this Neovim wants: `client:m(...)` from 0.11 (the dot
--- form is deprecated there), `client.m(...)` before (where it takes no self).
local function call(client, name, ...)
  if has_011 then
    return client[name](client, ...)
  end
  return client[name](...)
end

function M.request(client, method, params, handler, bufnr)
  return call(client, 'request', method, params, handler, bufnr)
end

function M.request_sync(client, method, params, timeout_ms, bufnr)
  return call(client, 'request_sync', method, params, timeout_ms, bufnr)
end

function M.is_stopped(client)
  return call(client, 'is_stopped')
end

local function fire(pattern, data)
  if vim.fn.has('nvim-0.8') == 1 then
    vim.api.nvim_exec_autocmds('User', { pattern = pattern, data = data, modeline = false })
  else
    vim.api.nvim_exec_autocmds('User', { pattern = pattern, modeline = false })
  end
end

--- Asks which session a buffer belongs to; the answer feeds the statusline.
function M.refresh_info(client, bufnr)
  local uri = vim.uri_from_bufnr(bufnr)
  M.request(client, '$/leanBatchd/moduleInfo', { textDocument = { uri = uri } }, function(err, result)
    if err or is_nil(result) then
      M.info[bufnr] = nil
    else
      M.info[bufnr] = result
    end
    fire('LeanBatchdStatus')
  end, bufnr)
end

local function refresh_codelens(bufnr)
  if config.get().codelens and vim.api.nvim_buf_is_loaded(bufnr) then
    pcall(vim.lsp.codelens.refresh, has_011 and { bufnr = bufnr } or nil)
  end
end

--- Buffers whose session is `key` (from their latest moduleInfo).
local function buffers_of(key)
  local out = {}
  for bufnr, info in pairs(M.info) do
    if info.sessionKey == key and vim.api.nvim_buf_is_loaded(bufnr) then
      table.insert(out, bufnr)
    end
  end
  return out
end

local function attached_buffers(client)
  if client.attached_buffers then
    return vim.tbl_keys(client.attached_buffers)
  end
  return vim.lsp.get_buffers_by_client_id(client.id)
end

M.handlers = {
  [M.PLAN_CHANGED] = function(_, params, ctx)
    M.plan_changes[params.root] = params
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    if client then
      for _, bufnr in ipairs(attached_buffers(client)) do
        M.refresh_info(client, bufnr)
        refresh_codelens(bufnr)
      end
    end
    fire('LeanBatchdPlanChanged', params)
  end,
  [M.WORKER_CHANGED] = function(_, params, ctx)
    if GONE[params.state] then
      M.workers[params.sessionKey] = nil
    else
      M.workers[params.sessionKey] = params
    end
    -- The lens shows the session's state: ask again now rather than at the next redraw
    -- (Neovim 0.7 has no workspace/codeLens/refresh).
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    for _, bufnr in ipairs(buffers_of(params.sessionKey)) do
      if client then
        M.refresh_info(client, bufnr)
      end
      refresh_codelens(bufnr)
    end
    fire('LeanBatchdStatus')
  end,
}

--- After edits settle (and Neovim has sent them), the buffer's header may name a new session.
local function follow_edits(client, bufnr)
  local timer = vim.loop.new_timer()
  vim.api.nvim_create_autocmd({ 'TextChanged', 'InsertLeave' }, {
    group = vim.api.nvim_create_augroup('lean_batchd_edits_' .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      timer:stop()
      timer:start(400, 0, vim.schedule_wrap(function()
        if vim.api.nvim_buf_is_loaded(bufnr) and not M.is_stopped(client) then
          M.refresh_info(client, bufnr)
          refresh_codelens(bufnr)
        end
      end))
    end,
  })
end

local last_lean = nil

--- The Lean buffer attached most recently entered: what commands act on from other buffers.
function M.last_lean_buffer()
  if last_lean and vim.api.nvim_buf_is_loaded(last_lean) and M.get(last_lean) then
    return last_lean
  end
  return nil
end

--- A buffer that holds a Lean file on disk (not a scratch, help or terminal buffer).
function M.is_lean_file(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  return vim.bo[bufnr].buftype == '' and name ~= '' and not name:find('://', 1, true) and name:sub(-5) == '.lean'
end

local function on_attach(client, bufnr)
  last_lean = bufnr
  vim.api.nvim_create_autocmd('BufEnter', {
    group = vim.api.nvim_create_augroup('lean_batchd_last_' .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      last_lean = bufnr
    end,
  })
  M.refresh_info(client, bufnr)
  follow_edits(client, bufnr)
  if config.get().codelens then
    refresh_codelens(bufnr)
    vim.api.nvim_create_autocmd({ 'BufEnter', 'BufWritePost', 'InsertLeave' }, {
      group = vim.api.nvim_create_augroup('lean_batchd_codelens_' .. bufnr, { clear = true }),
      buffer = bufnr,
      callback = function()
        refresh_codelens(bufnr)
      end,
    })
  end
end

--- The client configuration for a root: shared by `attach` and `lsp/lean_batchd.lua`.
function M.client_config(root)
  local cfg = config.get()
  return {
    name = M.NAME,
    cmd = config.cmd(cfg),
    cmd_cwd = root,
    root_dir = root,
    workspace_folders = root and { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ':t') } } or nil,
    init_options = { prewarmOnOpen = cfg.prewarm_on_open },
    handlers = M.handlers,
    on_attach = on_attach,
  }
end

local started = {} -- root -> client id (Neovim 0.7, which has no vim.lsp.start)

--- Attaches a buffer to the daemon client of its Lake root, starting the client if needed.
--- Returns the client id, or nil with a reason.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local path = vim.api.nvim_buf_get_name(bufnr)
  if path == '' then
    return nil, 'the buffer has no file'
  end
  if not M.is_lean_file(bufnr) then
    return nil, 'not a Lean file'
  end
  local root = M.root(vim.fn.fnamemodify(path, ':p'))
  if not root then
    return nil, 'not inside a Lake project (no lakefile.lean or lakefile.toml above it)'
  end
  local conf = M.client_config(root)
  if vim.fn.executable(conf.cmd[1]) == 0 then
    return nil, string.format('%s is not executable: install lean-batchd (pip install lean-batchd) or set `python`', conf.cmd[1])
  end
  if has_08 then
    return vim.lsp.start(conf, { bufnr = bufnr }), nil
  end
  local id = started[root]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or M.is_stopped(client) then
    id = vim.lsp.start_client(conf)
    if not id then
      return nil, 'the daemon did not start'
    end
    started[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id, nil
end

--- The Lake roots with a running daemon client (`:checkhealth` runs in a buffer of its own).
function M.roots()
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ name = M.NAME }) or vim.lsp.get_active_clients()
  local roots = {}
  for _, c in ipairs(clients) do
    if c.name == M.NAME and c.config.root_dir then
      table.insert(roots, c.config.root_dir)
    end
  end
  return roots
end

--- The daemon client serving a buffer, if any.
function M.get(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr, name = M.NAME })[1]
  end
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == M.NAME then
      return client
    end
  end
  return nil
end

return M
