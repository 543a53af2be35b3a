-- For Neovim 0.11's `vim.lsp.config`/`vim.lsp.enable('lean_batchd')`, instead of the
-- plugin's own autostart (set `autostart = false` in `vim.g.lean_batchd_config` then).
local client = require('lean_batchd.client')
local conf = client.client_config(nil)

return {
  cmd = conf.cmd,
  filetypes = { 'lean' },
  root_markers = { 'lakefile.lean', 'lakefile.toml' },
  init_options = conf.init_options,
  handlers = conf.handlers,
  on_attach = conf.on_attach,
}
