namespace Keys.KeysCtl.UnitTests;

/// <summary>A wrong command line exits 2 with the reason on stderr, and sends nothing.</summary>
public sealed class UsageTests
{
    public static TheoryData<string[]> WrongCommandLines => new()
    {
        { ["frobnicate"] },
        { ["keys"] },
        { ["keys", "create", "--project", "prj_1"] },
        { ["keys", "create", "-p", "prj_1", "-e", "dev", "--name", "k", "--type", "root"] },
        { ["keys", "create", "-p", "prj_1", "-e", "dev", "--name", "k", "--type", "secret", "--expires", "soon"] },
        { ["keys", "create", "-p", "prj_1", "-e", "dev", "--name", "k", "--type", "secret", "--expires", "0"] },
        { ["keys", "delete", "key_1", "-p", "prj_1", "-e", "dev"] },
        { ["keys", "delete", "-p", "prj_1", "-e", "dev", "--confirm-name", "k"] },
        { ["keys", "roll", "key_1", "-p", "prj_1", "-e", "dev"] },
        { ["keys", "roll", "key_1", "-p", "prj_1", "-e", "dev", "--grace", "an hour"] },
        { ["keys", "list"] },
        { ["projects", "create"] },
        { ["projects", "list", "-o", "yaml"] },
        { ["projects", "list", "--url", "localhost:8090"] },
        { ["projects", "list", "--url", "ftp://keyadmin.test"] },
        { ["operators", "create", "--name", "ana", "--role", "admin"] },
        { ["operators", "revoke"] },
        { ["audit", "--limit", "many"] },
        // The token is never an argument: shell history and ps would keep it.
        { ["login", "--token", CliRunner.Token] },
        { ["login", CliRunner.Token] },
    };

    [Theory]
    [MemberData(nameof(WrongCommandLines))]
    public async Task AWrongCommandLineExitsTwoWithTheReasonOnStderrAndSendsNothing(string[] args)
    {
        using var cli = new CliRunner();

        var result = await cli.RunAsync(args);

        Assert.Equal(2, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Contains("--help' for usage.", result.Stderr);
        Assert.Empty(cli.Api.Requests);
        Assert.DoesNotContain(CliRunner.Token, result.Stderr);
    }

    [Fact]
    public async Task ParseErrorsAreOneLineEach()
    {
        using var cli = new CliRunner();

        var result = await cli.RunAsync("keys", "create", "-p", "prj_1", "-e", "dev", "--name", "k", "--type", "root");

        Assert.Equal(
            ["error: Argument 'root' not recognized. Must be one of: 'publishable' 'secret'", "Run 'keysctl keys create --help' for usage."],
            result.Stderr.TrimEnd().Split(Environment.NewLine));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("keys", "create", "--help")]
    [InlineData("keys", "create", "-h")]
    public async Task HelpGoesToStdoutAndExitsZero(params string[] args)
    {
        using var cli = new CliRunner();

        var result = await cli.RunAsync(args);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Usage:", result.Stdout);
        Assert.Empty(result.Stderr);
        Assert.Empty(cli.Api.Requests);
    }
}
