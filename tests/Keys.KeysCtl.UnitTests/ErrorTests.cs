using System.Net;
using Keys.KeysCtl.Api;

namespace Keys.KeysCtl.UnitTests;

/// <summary>How a refusal or a failure reaches the user: one line on stderr, exit 1, nothing on stdout.</summary>
public sealed class ErrorTests
{
    [Theory]
    [InlineData("table")]
    [InlineData("json")]
    public async Task AnApiRefusalIsItsMessageAndReasonOnStderrAndExitsOne(string output)
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ =>
            StubKeyAdmin.Error(HttpStatusCode.NotFound, 5, "Project 'prj_nope' was not found.", "PROJECT_NOT_FOUND")));

        var result = await cli.RunAsync("keys", "list", "-p", "prj_nope", "-e", "dev", "-o", output);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: Project 'prj_nope' was not found. (PROJECT_NOT_FOUND)\n", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public void TheReasonIsTakenFromTheErrorInfoAmongOtherDetails()
    {
        var error = ApiError.From(
            HttpStatusCode.Conflict,
            "Conflict",
            """{"code":10,"message":"The key was rolled.","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1s"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"KEY_ALREADY_ROLLED","domain":"keys.v1"}]}""");

        Assert.Equal(new ApiError(409, "The key was rolled.", "KEY_ALREADY_ROLLED"), error);
        Assert.Equal("The key was rolled. (KEY_ALREADY_ROLLED)", error.Describe());
    }

    [Theory]
    [InlineData("<html><body>Bad Gateway</body></html>")]
    [InlineData("")]
    [InlineData("""{"error":"something"}""")]
    public void AnErrorThatIsNotTheApisIsDescribedByItsHttpStatus(string body)
    {
        var error = ApiError.From(HttpStatusCode.BadGateway, "Bad Gateway", body);

        Assert.Equal("KeyAdmin answered HTTP 502 Bad Gateway", error.Describe());
    }

    [Fact]
    public async Task ACallThisKeyAdminDoesNotServeSaysItIsOlderThanKeysctl()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => new HttpResponseMessage(HttpStatusCode.NotImplemented)));

        var result = await cli.RunAsync("operators", "list");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            "error: KeyAdmin answered HTTP 501 Not Implemented\nhint: this KeyAdmin does not serve that call yet: it is older than this keysctl\n",
            result.Stderr);
    }

    [Fact]
    public async Task ARefusedConnectionIsAnErrorNotACrash()
    {
        using var cli = new CliRunner(api: null) { RealNetwork = true };
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        cli.Environment["KEYSCTL_URL"] = "http://127.0.0.1:1";

        var result = await cli.RunAsync("projects", "list");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: cannot reach KeyAdmin at http://127.0.0.1:1: Connection refused", result.Stderr);
    }

    [Fact]
    public void TooManyRequestsSaysWhenToRetry()
    {
        var error = ApiError.From(
            HttpStatusCode.TooManyRequests, "Too Many Requests",
            """{"code":8,"message":"Too many failed attempts.","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TOO_MANY_REQUESTS"}]}""",
            TimeSpan.FromSeconds(41.2));

        Assert.Equal("Too many failed attempts.; retry in 42 s (TOO_MANY_REQUESTS)", error.Describe());
    }

    [Fact]
    public void ControlCharactersFromTheServerDoNotReachTheTerminal()
    {
        var error = ApiError.From(
            HttpStatusCode.BadRequest, "Bad Request",
            """{"code":3,"message":"bad \u001b[2Jname\nsecond line","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"INVALID\u0007"}]}""");

        Assert.Equal("bad ?[2Jname second line (INVALID?)", error.Describe());
    }

    [Fact]
    public async Task AnUnreachableKeyAdminIsNamedAndExitsOne()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => throw new HttpRequestException("Connection refused (keyadmin.test:8090)")));

        var result = await cli.RunAsync("projects", "list");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            $"error: cannot reach KeyAdmin at {CliRunner.Url}: Connection refused (keyadmin.test:8090)\n", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task ASuccessThatIsNotTheApisJsonIsAnErrorNotAnEmptyTable()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ =>
            new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html>console</html>", null, "text/html") }));

        var result = await cli.RunAsync("projects", "list");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: KeyAdmin at {CliRunner.Url} answered HTTP 200 with something that is not the API's JSON (text/html)", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task ARedirectIsReportedNotFollowed()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.PermanentRedirect);
            response.Headers.Location = new Uri("https://keyadmin.test/v1/projects");
            return response;
        }));

        var result = await cli.RunAsync("projects", "create", "--name", "x");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("a redirect to https://keyadmin.test/v1/projects", result.Stderr);
        Assert.Single(cli.Api.Requests);
    }

    [Fact]
    public async Task PlainHttpToAnotherHostIsWarnedAboutOnStderr()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok("""{"projects":[]}""")));

        var remote = await cli.RunAsync("projects", "list", "-o", "json", "--url", "http://keyadmin.test:8090");
        var local = await cli.RunAsync("projects", "list", "-o", "json", "--url", "http://127.0.0.1:8090");

        var secure = await cli.RunAsync("projects", "list", "-o", "json");

        Assert.Equal("warning: http://keyadmin.test:8090 is plain HTTP: the token crosses the network unencrypted\n", remote.Stderr);
        Assert.Empty(local.Stderr);
        Assert.Empty(secure.Stderr);
        Assert.Equal("{\n  \"projects\": []\n}\n", remote.Stdout);
    }
}
