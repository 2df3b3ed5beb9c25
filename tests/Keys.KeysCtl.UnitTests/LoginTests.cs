using System.Net;
using System.Runtime.Versioning;
using System.Text.Json;

namespace Keys.KeysCtl.UnitTests;

/// <summary><c>login</c>, <c>logout</c> and which token a command sends where.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class LoginTests
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode OwnerOnlyDirectory = OwnerReadWrite | UnixFileMode.UserExecute;

    [Fact]
    public async Task LoginChecksThePipedTokenAndStoresItInAFileOnlyTheUserCanRead()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(Fixtures.CurrentOperator)));
        cli.Environment.Remove("KEYSCTL_TOKEN");

        var result = await cli.RunPipedAsync($"{CliRunner.Token}\n", "login");

        Assert.Equal(0, result.ExitCode);
        var request = Assert.Single(cli.Api.Requests);
        Assert.Equal(HttpMethod.Get, request.Method);
        Assert.Equal($"{CliRunner.Url}/v1/operators/current", request.Uri.ToString());
        Assert.Equal($"Bearer {CliRunner.Token}", request.Authorization);

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(cli.ConfigPath));
        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(Path.GetDirectoryName(cli.ConfigPath)!));
        using var stored = JsonDocument.Parse(File.ReadAllText(cli.ConfigPath));
        Assert.Equal(CliRunner.Url, stored.RootElement.GetProperty("url").GetString());
        Assert.Equal(CliRunner.Token, stored.RootElement.GetProperty("token").GetString());

        Assert.Contains("Logged in to https://keyadmin.test:8090 as ana (editor)", result.Stdout);
        Assert.DoesNotContain(CliRunner.Token, result.Stdout + result.Stderr);
        Assert.Empty(result.Stderr);
        // Nothing is left beside it (the file is written under another name first, then renamed).
        Assert.Equal(["config.json"], Directory.GetFiles(Path.GetDirectoryName(cli.ConfigPath)!).Select(Path.GetFileName));
    }

    [Fact]
    public async Task LoginOverAFileOthersCouldReadLeavesAFileOnlyTheUserCanRead()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(Fixtures.CurrentOperator)));
        var directory = Path.GetDirectoryName(cli.ConfigPath)!;
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, OwnerOnlyDirectory | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.WriteAllText(cli.ConfigPath, """{"url":"http://old.test","token":"op_old"}""");
        File.SetUnixFileMode(cli.ConfigPath, OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var result = await cli.RunPipedAsync(CliRunner.Token, "login");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(cli.ConfigPath));
        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(directory));
        Assert.Contains(CliRunner.Token, File.ReadAllText(cli.ConfigPath));
    }

    [Fact]
    public async Task ARefusedTokenIsNotStoredAndExitsOne()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ =>
            StubKeyAdmin.Error(HttpStatusCode.Unauthorized, 16, "The admin token is not valid.", "UNAUTHORIZED")));

        var result = await cli.RunPipedAsync("op_wrong", "login");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: The admin token is not valid. (UNAUTHORIZED)", result.Stderr);
        Assert.Contains("hint: the token was refused", result.Stderr);
        Assert.False(File.Exists(cli.ConfigPath));
        Assert.Empty(result.Stdout);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \n")]
    [InlineData("op_one op_two")]
    public async Task LoginWithoutOneTokenOnStdinSendsNothing(string stdin)
    {
        using var cli = new CliRunner();

        var result = await cli.RunPipedAsync(stdin, "login");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Empty(cli.Api.Requests);
        Assert.False(File.Exists(cli.ConfigPath));
    }

    [Fact]
    public async Task LoginWithNoTerminalAndNothingPipedSaysHowToGiveTheToken()
    {
        using var cli = new CliRunner();

        var result = await cli.RunAsync("login");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("keysctl login < token-file", result.Stderr);
        Assert.Empty(cli.Api.Requests);
    }

    [Fact]
    public async Task TheStoredTokenIsSentToTheServerItWasStoredForAndToNoOther()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok("""{"projects":[]}""")));
        cli.Environment.Remove("KEYSCTL_TOKEN");
        cli.Environment.Remove("KEYSCTL_URL");
        cli.StoreLogin(CliRunner.Url, CliRunner.Token);

        var stored = await cli.RunAsync("projects", "list");
        var elsewhere = await cli.RunAsync("projects", "list", "--url", "http://attacker.test");

        Assert.Equal(0, stored.ExitCode);
        var request = Assert.Single(cli.Api.Requests);
        Assert.Equal("keyadmin.test", request.Uri.Host);
        Assert.Equal($"Bearer {CliRunner.Token}", request.Authorization);

        Assert.Equal(1, elsewhere.ExitCode);
        Assert.StartsWith("error: not logged in to http://attacker.test", elsewhere.Stderr);
        Assert.Single(cli.Api.Requests);
    }

    [Fact]
    public async Task KeysctlTokenOverridesTheStoredToken()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok("""{"projects":[]}""")));
        cli.StoreLogin(CliRunner.Url, "op_stored");

        await cli.RunAsync("projects", "list");

        Assert.Equal($"Bearer {CliRunner.Token}", Assert.Single(cli.Api.Requests).Authorization);
    }

    [Fact]
    public async Task WithNoTokenACommandSaysHowToLogInAndSendsNothing()
    {
        using var cli = new CliRunner();
        cli.Environment.Remove("KEYSCTL_TOKEN");

        var result = await cli.RunAsync("projects", "list");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            $"error: not logged in to {CliRunner.Url}\nhint: run `keysctl login --url {CliRunner.Url}`, or set KEYSCTL_TOKEN\n",
            result.Stderr);
        Assert.Empty(cli.Api.Requests);
    }

    [Fact]
    public async Task AStoredLoginOthersCanReadIsUsedWithAWarning()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok("""{"projects":[]}""")));
        cli.Environment.Remove("KEYSCTL_TOKEN");
        cli.StoreLogin(CliRunner.Url, CliRunner.Token, OwnerReadWrite | UnixFileMode.OtherRead);

        var result = await cli.RunAsync("projects", "list");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"warning: {cli.ConfigPath} is readable by other users; run: chmod 600", result.Stderr);
    }

    [Fact]
    public async Task LogoutRemovesTheStoredLoginAndSaysSoWhenThereIsNone()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(Fixtures.CurrentOperator)));
        await cli.RunPipedAsync(CliRunner.Token, "login");
        Assert.True(File.Exists(cli.ConfigPath));

        var first = await cli.RunAsync("logout");
        var second = await cli.RunAsync("logout", "-o", "json");

        Assert.Equal(0, first.ExitCode);
        Assert.False(File.Exists(cli.ConfigPath));
        Assert.Contains("Logged out of https://keyadmin.test:8090", first.Stdout);
        Assert.Equal(0, second.ExitCode);
        using var json = JsonDocument.Parse(second.Stdout);
        Assert.False(json.RootElement.GetProperty("removed").GetBoolean());
    }

    [Fact]
    public async Task WhoamiAsJsonIsTheUrlAndTheApisOperator()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(Fixtures.CurrentOperator)));

        var result = await cli.RunAsync("whoami", "-o", "json");

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(CliRunner.Url, json.RootElement.GetProperty("url").GetString());
        Assert.Equal("opr_ana", json.RootElement.GetProperty("operator").GetProperty("id").GetString());
        Assert.Equal("editor", json.RootElement.GetProperty("operator").GetProperty("role").GetString());
    }
}
