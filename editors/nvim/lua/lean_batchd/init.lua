-- lean-batchd for Neovim: warm Lean import sessions beside Lean's own language server.
local client = require('lean_batchd.client')
local config = require('lean_batchd.config')
local render = require('lean_batchd.render')

local M = {}

local TIMEOUT_MS = 30000

--- Configures the plugin (also read from `vim.g.lean_batchd_config`) and attaches to Lean
--- buffers already open.
function M.setup(opts)
  config.set(opts)
  if config.get().autostart then
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(bufnr) and vim.bo[bufnr].filetype == 'lean' then
        M.attach(bufnr)
      end
    end
  end
end

--- Attaches a buffer to the daemon; quiet outside Lake projects, loud when the daemon is missing.
function M.attach(bufnr)
  local id, why = client.attach(bufnr)
  local quiet = why and (why:find('not inside a Lake project', 1, true) or why == 'the buffer has no file' or why == 'not a Lean file')
  if not id and why and not quiet then
    vim.notify('lean-batchd: ' .. why, vim.log.levels.WARN)
  end
  return id, why
end

local function err(message)
  vim.notify('lean-batchd: ' .. message, vim.log.levels.ERROR)
  return nil, message
end

--- The daemon client for the current buffer, attaching it first if it is a Lean file. From
--- any other buffer (the plugin's own plan or status split, a help page) commands act on the
--- Lean buffer used last, and never start a client of their own.
local function current()
  local bufnr = vim.api.nvim_get_current_buf()
  local c = client.get(bufnr)
  if c then
    return c, bufnr
  end
  if not client.is_lean_file(bufnr) then
    bufnr = client.last_lean_buffer()
    c = bufnr and client.get(bufnr)
    if c then
      return c, bufnr
    end
    return err('open a Lean file of a Lake project first')
  end
  local id, why = client.attach(bufnr)
  if not id then
    return err(why)
  end
  c = vim.lsp.get_client_by_id(id)
  if not vim.wait(TIMEOUT_MS, function()
    return c.initialized or client.is_stopped(c)
  end, 20) or not c.initialized then
    return err('the daemon did not come up')
  end
  return c, bufnr
end

--- A request about the current buffer, answered synchronously (commands are interactive).
local function call(method, params)
  local c, bufnr = current()
  if not c then
    return nil
  end
  local reply, failure = client.request_sync(c, method, params(bufnr), TIMEOUT_MS, bufnr)
  if not reply then
    return err(string.format('%s: %s', method, failure or 'no reply'))
  end
  if reply.err then
    return err(reply.err.message or vim.inspect(reply.err))
  end
  return reply.result, bufnr
end

local function document(bufnr)
  return { textDocument = { uri = vim.uri_from_bufnr(bufnr) } }
end

--- Shows lines in a scratch buffer named `name` (reused), in a split.
local function scratch(name, lines)
  local bufnr = vim.fn.bufnr(name)
  if bufnr == -1 then
    bufnr = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(bufnr, name)
    vim.bo[bufnr].bufhidden = 'hide'
    vim.bo[bufnr].filetype = 'leanbatchd'
  end
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
  if vim.fn.bufwinnr(bufnr) == -1 then
    vim.cmd('botright split')
    vim.api.nvim_win_set_buf(0, bufnr)
    vim.cmd('wincmd p')
  end
  return bufnr
end

function M.plan()
  local result, bufnr = call('$/leanBatchd/plan', function(b)
    local root = client.root(vim.api.nvim_buf_get_name(b))
    return { uri = root and vim.uri_from_fname(root) or nil }
  end)
  if not result then
    return nil
  end
  scratch('lean-batchd://plan', render.plan(result, client.root(vim.api.nvim_buf_get_name(bufnr)) or ''))
  return result
end

function M.prewarm()
  local result = call('$/leanBatchd/prewarm', document)
  if result then
    vim.notify('lean-batchd: warming ' .. render.session(result.sessionKey), vim.log.levels.INFO)
  end
  return result
end

function M.run(command)
  if not command or command == '' then
    return err('give a Lean command, e.g. :LeanBatchdRun #check Nat.add_comm')
  end
  local result, bufnr = call('$/leanBatchd/run', function(b)
    return { textDocument = { uri = vim.uri_from_bufnr(b) }, command = command }
  end)
  if not result then
    return nil
  end
  local lines, items = render.run(command, result, vim.api.nvim_buf_get_name(bufnr))
  vim.fn.setqflist({}, ' ', { title = 'lean-batchd: ' .. command, items = items })
  scratch('lean-batchd://run', lines)
  return result
end

function M.status()
  local result = call('$/leanBatchd/status', function()
    return vim.empty_dict()
  end)
  if result then
    scratch('lean-batchd://status', render.status(result))
  end
  return result
end

function M.evict()
  local result = call('$/leanBatchd/evict', document)
  if result then
    vim.notify(string.format('lean-batchd: evicted %d worker(s)', result.evicted), vim.log.levels.INFO)
  end
  return result
end

--- For the statusline: warm workers, their memory, and this buffer's session state.
function M.statusline(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local warm, memory = 0, 0
  for _, w in pairs(client.workers) do
    if w.state == 'warm' or w.state == 'busy' then
      warm = warm + 1
    end
    memory = memory + (w.memoryMb or 0)
  end
  local info = client.info[bufnr]
  local state = nil
  if info then
    local w = client.workers[info.sessionKey]
    state = w and w.state or (info.workerState == 'dead' and 'cold' or info.workerState)
  end
  return render.statusline(warm, memory, state)
end

return M
