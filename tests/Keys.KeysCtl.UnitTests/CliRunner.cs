using Microsoft.Extensions.Time.Testing;

namespace Keys.KeysCtl.UnitTests;

public sealed record CliResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs keysctl in-process as a shell would, but with a config directory of its own (removed afterwards), a stub for
/// KeyAdmin and a fixed clock. By default it has a token (KEYSCTL_TOKEN), so a command that sends nothing sends
/// nothing for its own reasons.
/// </summary>
public sealed class CliRunner : IDisposable
{
    public const string Token = "op_TestToken0123456789abcdefghijklmnopqrstu";

    public const string Url = "https://keyadmin.test:8090";

    public static readonly DateTimeOffset Now = new(2030, 1, 15, 12, 0, 0, TimeSpan.Zero);

    private readonly DirectoryInfo _home = Directory.CreateTempSubdirectory("keysctl-tests-");

    public CliRunner(StubKeyAdmin? api = null)
    {
        Api = api ?? new StubKeyAdmin();
        Environment = new Dictionary<string, string?>
        {
            ["HOME"] = _home.FullName,
            ["XDG_CONFIG_HOME"] = Path.Combine(_home.FullName, "config"),
            ["KEYSCTL_URL"] = Url,
            ["KEYSCTL_TOKEN"] = Token,
        };
    }

    public StubKeyAdmin Api { get; }

    /// <summary>Whether stdout is a terminal (80 columns: what Spectre.Console takes for a writer it cannot measure).</summary>
    public bool Terminal { get; init; }

    /// <summary>What the user types at a no-echo prompt on the terminal (null: there is no terminal to ask on).</summary>
    public Func<string, string>? Prompt { get; init; }

    /// <summary>Connect for real instead of to the stub.</summary>
    public bool RealNetwork { get; init; }

    public Dictionary<string, string?> Environment { get; }

    public string ConfigPath => Path.Combine(_home.FullName, "config", "keysctl", "config.json");

    /// <summary>Writes a stored login as <c>keysctl login</c> would have: the user's alone.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void StoreLogin(string url, string token, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(ConfigPath)!);
        File.WriteAllText(ConfigPath, $$"""{"url":"{{url}}","token":"{{token}}"}""");
        File.SetUnixFileMode(ConfigPath, mode);
    }

    /// <summary>Runs with standard input a terminal, on which nothing can be typed.</summary>
    public Task<CliResult> RunAsync(params string[] args) => RunAsync(null, args);

    /// <summary>Runs with <paramref name="stdin"/> piped in.</summary>
    public Task<CliResult> RunPipedAsync(string stdin, params string[] args) => RunAsync(stdin, args);

    private async Task<CliResult> RunAsync(string? stdin, string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var console = new KeysCtlConsole(stdout, stderr, new StringReader(stdin ?? string.Empty), Environment)
        {
            InputRedirected = stdin is not null,
            OutputIsTerminal = Terminal,
            Clock = new FakeTimeProvider(Now),
            Handler = RealNetwork ? null : Api,
            PromptSecret = stdin is null ? Prompt : null,
        };
        var exitCode = await KeysCtlApp.RunAsync(args, console);
        return new CliResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    public void Dispose() => _home.Delete(recursive: true);
}
