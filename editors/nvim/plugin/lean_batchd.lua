-- lean-batchd: attach to Lean buffers in Lake projects, and the :LeanBatchd* commands.
if vim.g.loaded_lean_batchd then
  return
end
vim.g.loaded_lean_batchd = true

if vim.fn.has('nvim-0.8') == 1 then
  vim.filetype.add({ extension = { lean = 'lean' } })
else
  vim.cmd('autocmd BufRead,BufNewFile *.lean setfiletype lean')
end

local group = vim.api.nvim_create_augroup('lean_batchd', { clear = true })
vim.api.nvim_create_autocmd('FileType', {
  group = group,
  pattern = 'lean',
  callback = function(args)
    if require('lean_batchd.config').get().autostart then
      require('lean_batchd').attach(args.buf)
    end
  end,
})

local function command(name, fn, opts)
  vim.api.nvim_create_user_command(name, fn, opts or {})
end

command('LeanBatchdPlan', function()
  require('lean_batchd').plan()
end, { desc = 'lean-batchd: show the batch plan of this Lake project' })
command('LeanBatchdPrewarm', function()
  require('lean_batchd').prewarm()
end, { desc = "lean-batchd: warm this file's import session" })
command('LeanBatchdRun', function(opts)
  require('lean_batchd').run(opts.args)
end, { nargs = '+', desc = "lean-batchd: run a Lean command in this file's context" })
command('LeanBatchdStatus', function()
  require('lean_batchd').status()
end, { desc = 'lean-batchd: show the daemon, its projects and its warm workers' })
command('LeanBatchdEvict', function()
  require('lean_batchd').evict()
end, { desc = "lean-batchd: stop the warm worker of this file's session" })
