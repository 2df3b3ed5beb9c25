using System.Diagnostics;
using Keys.KeysCtl;

namespace Keys.FunctionalTests.Infrastructure;

public sealed record KeysCtlResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>For assertion messages: what keysctl said when it did not do what a test expected.</summary>
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// keysctl against the real KeyAdmin, as a user's shell runs it: with <c>KEYSCTL_URL</c> and (unless a test takes it
/// away) <c>KEYSCTL_TOKEN</c>, and a home and config directory of its own, removed afterwards.
/// </summary>
public sealed class KeysCtlRunner : IDisposable
{
    private readonly DirectoryInfo _home = Directory.CreateTempSubdirectory("keysctl-functional-");

    public KeysCtlRunner(Uri keyAdmin, string? token)
    {
        Environment = new Dictionary<string, string?>
        {
            ["HOME"] = _home.FullName,
            ["XDG_CONFIG_HOME"] = Path.Combine(_home.FullName, "config"),
            ["KEYSCTL_URL"] = keyAdmin.ToString(),
        };
        if (token is not null)
        {
            Environment["KEYSCTL_TOKEN"] = token;
        }
    }

    public Dictionary<string, string?> Environment { get; }

    public string ConfigPath => Path.Combine(_home.FullName, "config", "keysctl", "config.json");

    /// <summary>In-process (<see cref="KeysCtlApp.RunAsync"/>), standard input a terminal nothing is typed on.</summary>
    public Task<KeysCtlResult> RunAsync(params string[] args) => RunAsync(null, args);

    /// <summary>In-process, with <paramref name="stdin"/> piped in.</summary>
    public Task<KeysCtlResult> RunPipedAsync(string stdin, params string[] args) => RunAsync(stdin, args);

    /// <summary>
    /// As its own process (<c>dotnet keysctl.dll</c>, the same build <c>./keys ctl</c> and the installed tool run), so
    /// that the exit code and the split between stdout and stderr are the ones a shell sees.
    /// </summary>
    public async Task<KeysCtlResult> RunProcessAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "keysctl.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Only what a user's shell would set for keysctl: not the test run's own variables.
        foreach (var name in start.Environment.Keys.Where(n => n.StartsWith("KEYSCTL_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in Environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return new KeysCtlResult(process.ExitCode, await stdout, await stderr);
    }

    public void Dispose() => _home.Delete(recursive: true);

    private async Task<KeysCtlResult> RunAsync(string? stdin, string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var console = new KeysCtlConsole(stdout, stderr, new StringReader(stdin ?? string.Empty), Environment)
        {
            InputRedirected = stdin is not null,
        };
        var exitCode = await KeysCtlApp.RunAsync(args, console);
        return new KeysCtlResult(exitCode, stdout.ToString(), stderr.ToString());
    }
}
