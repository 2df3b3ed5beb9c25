using Keys.KeysCtl;

return await KeysCtlApp.RunAsync(args, KeysCtlConsole.FromSystem());
