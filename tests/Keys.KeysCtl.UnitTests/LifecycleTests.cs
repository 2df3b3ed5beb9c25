using System.Net;
using System.Text.Json.Nodes;
using Keys.ApiKeys;

namespace Keys.KeysCtl.UnitTests;

/// <summary>
/// <c>keys update|disable|enable|find</c> and <c>projects update</c>: what each sends (a PATCH with only the fields the
/// options name), what each prints, and that a key to find travels in a request body only.
/// </summary>
public sealed class LifecycleTests
{
    private const string KeyPath = "/v1/projects/prj_1/environments/dev/keys/key_1";

    private static readonly string[] Update = ["keys", "update", "key_1", "-p", "prj_1", "-e", "dev"];

    private static readonly string UpdatedKey = Fixtures.Key(
        "key_1", "billing", "dev",
        extra: ""","status":"active","enabled":true,"rateLimit":{"limit":"100","windowSeconds":60,"mode":"local"},"allowedCidrs":["203.0.113.0/24"],"metadata":{"team":"billing"},"projectId":"prj_1","expiresAt":"2030-01-18T12:00:00Z" """);

    private static readonly string PublishableKey = Fixtures.Key(
        "key_pk", "web", "dev", "publishable",
        extra: ""","status":"active","value":"pk_PublicValue","allowedOrigins":["https://app.example.com"],"projectId":"prj_1" """);

    public static TheoryData<string[], string> Updates => new()
    {
        { ["--name", "renamed"], """{"name":"renamed"}""" },
        { ["--scope", "orders:read,orders:create", "--scope", "*:read"], """{"scopes":["orders:read","orders:create","*:read"]}""" },
        { ["--clear-scopes"], """{"scopes":[]}""" },
        { ["--expires", "30d"], """{"expiresAt":"2030-02-14T12:00:00Z"}""" },
        { ["--expires", "2030-06-01"], """{"expiresAt":"2030-06-01T00:00:00Z"}""" },
        { ["--no-expiry"], """{"expiresAt":null}""" },
        { ["--rate-limit", "100/1m"], """{"rateLimit":{"limit":100,"windowSeconds":60,"mode":"local"}}""" },
        { ["--rate-limit", "5000/1h,global"], """{"rateLimit":{"limit":5000,"windowSeconds":3600,"mode":"global"}}""" },
        { ["--rate-limit", "10/90s,local"], """{"rateLimit":{"limit":10,"windowSeconds":90,"mode":"local"}}""" },
        { ["--no-rate-limit"], """{"rateLimit":null}""" },
        { ["--allow-cidr", "203.0.113.0/24", "--allow-cidr", "2001:db8::/32"], """{"allowedCidrs":["203.0.113.0/24","2001:db8::/32"]}""" },
        { ["--allow-origin", "https://app.example.com"], """{"allowedOrigins":["https://app.example.com"]}""" },
        { ["--clear-allowlist"], """{"allowedCidrs":[],"allowedOrigins":[]}""" },
        { ["--metadata", """{"team": "billing", "tier": 2}"""], """{"metadata":{"team":"billing","tier":2}}""" },
        { ["--metadata", "{}"], """{"metadata":{}}""" },
        { ["--clear-metadata"], """{"metadata":null}""" },
        {
            ["--metadata", """{"a":1}""", "--no-expiry", "--name", "x", "--rate-limit", "1/1s", "--clear-scopes"],
            """{"name":"x","scopes":[],"expiresAt":null,"rateLimit":{"limit":1,"windowSeconds":1,"mode":"local"},"metadata":{"a":1}}"""
        },
    };

    public static TheoryData<string[]> WrongCommandLines => new()
    {
        { [.. Update] },
        { ["keys", "update", "key_1", "-p", "prj_1", "--name", "x"] },
        { ["keys", "update", "-p", "prj_1", "-e", "dev", "--name", "x"] },
        { [.. Update, "--expires", "30d", "--no-expiry"] },
        { [.. Update, "--scope", "orders:read", "--clear-scopes"] },
        { [.. Update, "--scope", ""] },
        { [.. Update, "--scope", " , "] },
        { [.. Update, "--rate-limit", "100/1m", "--no-rate-limit"] },
        { [.. Update, "--allow-cidr", "10.0.0.0/8", "--clear-allowlist"] },
        { [.. Update, "--allow-origin", "https://a.example", "--clear-allowlist"] },
        { [.. Update, "--allow-cidr", "10.0.0.0/8", "--allow-origin", "https://a.example"] },
        { [.. Update, "--allow-cidr", ""] },
        { [.. Update, "--metadata", "{}", "--clear-metadata"] },
        { [.. Update, "--metadata", "[1,2]"] },
        { [.. Update, "--metadata", "\"text\""] },
        { [.. Update, "--metadata", "{team: billing}"] },
        { [.. Update, "--expires", "soon"] },
        { [.. Update, "--rate-limit", "100"] },
        { [.. Update, "--rate-limit", "100/0"] },
        { [.. Update, "--rate-limit", "0/1m"] },
        { [.. Update, "--rate-limit", "-5/1m"] },
        { [.. Update, "--rate-limit", "1.5/1m"] },
        { [.. Update, "--rate-limit", "100/1x"] },
        { [.. Update, "--rate-limit", "100/1m,everywhere"] },
        { [.. Update, "--rate-limit", "100/1m,global,local"] },
        { [.. Update, "--enabled"] },
        { ["keys", "disable", "-p", "prj_1", "-e", "dev"] },
        { ["keys", "enable", "key_1", "-p", "prj_1"] },
        { ["keys", "list", "-p", "prj_1", "--status", "deleted"] },
        { ["keys", "list", "-p", "prj_1", "--type", "root"] },
        { ["keys", "list", "-p", "prj_1", "--search", Fixtures.SecretValue] },
        { ["keys", "list", "-p", "prj_1", "--search", $"name {Fixtures.SecretValue[..30]}"] },
        { ["keys", "list", "-p", "prj_1", "--search", Fixtures.OperatorToken] },
        { ["keys", "list", "-p", "prj_1", "--search", $"x {Fixtures.OperatorToken[..24]}"] },
        { ["keys", "find", Fixtures.SecretValue] },
        { ["keys", "find", "--key", Fixtures.SecretValue] },
        { ["projects", "update", "prj_1"] },
        { ["projects", "update", "--name", "x"] },
        { ["projects", "update", "prj_1", "--default-rate-limit", "100/1m", "--no-default-rate-limit"] },
        { ["projects", "update", "prj_1", "--default-rate-limit", "lots"] },
        { ["projects", "update", "prj_1", "--max-secret-lifetime", "90", "--no-max-secret-lifetime"] },
        { ["projects", "update", "prj_1", "--max-secret-lifetime", "0"] },
        { ["projects", "update", "prj_1", "--max-secret-lifetime", "90d"] },
        { ["audit", "--limit", "0"] },
        { ["audit", "--limit", "5", "--all"] },
    };

    [Theory]
    [MemberData(nameof(Updates))]
    public async Task KeysUpdateSendsAPatchWithOnlyTheFieldsItsOptionsName(string[] options, string body)
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(UpdatedKey)));

        var result = await cli.RunAsync([.. Update, .. options]);

        Assert.True(result.ExitCode == 0, result.Stderr);
        var request = Assert.Single(cli.Api.Requests);
        Assert.Equal(HttpMethod.Patch, request.Method);
        Assert.Equal(KeyPath, request.Target);
        Assert.Equal(body, request.Body);
    }

    [Theory]
    [MemberData(nameof(WrongCommandLines))]
    public async Task AWrongCommandLineForTheNewCommandsExitsTwoAndSendsNothing(string[] args)
    {
        using var cli = new CliRunner();

        var result = await cli.RunAsync(args);

        Assert.Equal(2, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Contains("--help' for usage.", result.Stderr);
        Assert.Empty(cli.Api.Requests);
        Assert.DoesNotContain(Fixtures.SecretValue[..30], result.Stderr);
    }

    [Theory]
    [InlineData(new[] { "--expires", "30d", "--no-expiry" }, "error: --expires and --no-expiry cannot be used together")]
    [InlineData(new[] { "--allow-cidr", "10.0.0.0/8", "--allow-origin", "https://a.example" }, "error: --allow-cidr and --allow-origin cannot be used together")]
    [InlineData(new[] { "--scope", "" }, "error: --scope needs a value; to remove them all, use --clear-scopes")]
    [InlineData(new[] { "--metadata", "[1]" }, "error: --metadata takes a JSON object, such as '{\"team\":\"billing\"}'")]
    [InlineData(new[] { "--rate-limit", "100" }, "error: --rate-limit takes N/window[,global] (100/1m, 5000/1h,global), not '100'")]
    [InlineData(new string[0], "error: nothing to change: give at least one of --name, --scope, --clear-scopes, --expires, --no-expiry, --rate-limit, --no-rate-limit, --allow-cidr, --allow-origin, --clear-allowlist, --metadata, --clear-metadata")]
    public async Task AUsageErrorSaysWhatIsWrong(string[] options, string error)
    {
        using var cli = new CliRunner();

        var result = await cli.RunAsync([.. Update, .. options]);

        Assert.Equal([error, "Run 'keysctl keys update --help' for usage."], result.Stderr.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task KeysUpdatePrintsTheKeyAsItIsNowAndAsJsonWhatTheApiAnswered()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(UpdatedKey)));

        var table = await cli.RunAsync([.. Update, "--rate-limit", "100/1m"]);
        var json = await cli.RunAsync([.. Update, "--rate-limit", "100/1m", "-o", "json"]);

        Assert.Equal(0, table.ExitCode);
        Assert.StartsWith("Updated key key_1 (billing).\n", table.Stdout);
        var lines = table.Stdout.Split('\n');
        Assert.Equal("100/1m", Field(lines, "Rate limit"));
        Assert.Equal("203.0.113.0/24", Field(lines, "Allowed networks"));
        Assert.Equal("""{"team":"billing"}""", Field(lines, "Metadata"));
        Assert.Equal("active; expires in 3 days", Field(lines, "Status"));
        Assert.Equal("prj_1", Field(lines, "Project"));
        Assert.Empty(table.Stderr);

        Assert.Equal(0, json.ExitCode);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(UpdatedKey), JsonNode.Parse(json.Stdout)), json.Stdout);
        Assert.Empty(json.Stderr);
    }

    [Theory]
    [InlineData("disable", false, "Disabled key key_1 (billing): gateways refuse it until it is enabled again (keysctl keys enable).\n")]
    [InlineData("enable", true, "Enabled key key_1 (billing): gateways accept it again.\n")]
    public async Task KeysDisableAndEnablePatchOnlyEnabled(string command, bool enabled, string printed)
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(UpdatedKey)));

        var table = await cli.RunAsync("keys", command, "key_1", "-p", "prj_1", "-e", "dev");
        var json = await cli.RunAsync("keys", command, "key_1", "-p", "prj_1", "-e", "dev", "-o", "json");

        Assert.Equal(0, table.ExitCode);
        Assert.All(cli.Api.Requests, request =>
        {
            Assert.Equal(HttpMethod.Patch, request.Method);
            Assert.Equal(KeyPath, request.Target);
            Assert.Equal($$"""{"enabled":{{(enabled ? "true" : "false")}}}""", request.Body);
        });
        Assert.Equal(printed, table.Stdout);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(UpdatedKey), JsonNode.Parse(json.Stdout)), json.Stdout);
    }

    [Fact]
    public async Task KeysFindReadsTheKeyFromStdinAndSendsItOnlyInTheBody()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(Fixtures.Key(
            "key_1", "billing", "prod",
            extra: ""","status":"deleted","projectId":"prj_1","deletedAt":"2030-01-14T09:00:00Z" """))));

        var result = await cli.RunPipedAsync($"{Fixtures.WellFormedSecretKey}\n", "keys", "find");

        Assert.Equal(0, result.ExitCode);
        var request = Assert.Single(cli.Api.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/v1/keys:find", request.Target);
        Assert.Equal($$"""{"key":"{{Fixtures.WellFormedSecretKey}}"}""", request.Body);
        Assert.DoesNotContain(Fixtures.WellFormedSecretKey, request.Uri.ToString());
        Assert.DoesNotContain(Fixtures.WellFormedSecretKey, request.Authorization);

        var lines = result.Stdout.Split('\n');
        Assert.Equal("prj_1", Field(lines, "Project"));
        Assert.Equal("prod", Field(lines, "Environment"));
        Assert.Equal("key_1", Field(lines, "ID"));
        Assert.Equal("billing", Field(lines, "Name"));
        Assert.Equal("secret", Field(lines, "Type"));
        Assert.Equal("deleted 2030-01-14 09:00Z", Field(lines, "Status"));
        Assert.DoesNotContain(Fixtures.WellFormedSecretKey, result.Stdout + result.Stderr);
    }

    [Fact]
    public async Task KeysFindOnATerminalAsksForTheKeyWithoutEcho()
    {
        var asked = new List<string>();
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(PublishableKey)))
        {
            Prompt = prompt =>
            {
                asked.Add(prompt);
                return $" {Fixtures.WellFormedPublishableKey} ";
            },
        };

        var result = await cli.RunAsync("keys", "find");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["Key to find (pk_… or sk_…)"], asked);
        Assert.Equal($$"""{"key":"{{Fixtures.WellFormedPublishableKey}}"}""", Assert.Single(cli.Api.Requests).Body);
        Assert.Equal("https://app.example.com", Field(result.Stdout.Split('\n'), "Allowed origins"));
    }

    public static TheoryData<string> NotKeys => new()
    {
        string.Empty,
        " \n",
        "sk_one sk_two",
        "hunter2",
        // An operator token, well-formed or not: not a key, and not for this server's logs either.
        OperatorToken.Generate(),
        "op_TestToken0123456789abcdefghijklmnopqrstu",
        // The prefix, but not the format: too short, a character outside base62, a checksum that does not match.
        Fixtures.SecretValue,
        Fixtures.WellFormedSecretKey[..^1],
        Fixtures.WellFormedSecretKey[..20] + "-" + Fixtures.WellFormedSecretKey[21..],
        Fixtures.WellFormedSecretKey[..^1] + (Fixtures.WellFormedSecretKey[^1] == 'A' ? 'B' : 'A'),
    };

    [Theory]
    [MemberData(nameof(NotKeys))]
    public async Task KeysFindOfWhatIsNotOneWholeKeyExitsTwoSendsNothingAndDoesNotEchoIt(string stdin)
    {
        using var cli = new CliRunner();

        var result = await cli.RunPipedAsync(stdin, "keys", "find");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Contains("nothing was sent", result.Stderr);
        Assert.Empty(cli.Api.Requests);
        Assert.Empty(result.Stdout);
        if (stdin.Trim().Length > 0)
        {
            Assert.DoesNotContain(stdin.Trim(), result.Stderr);
        }
    }

    [Fact]
    public async Task KeysFindWithNoTerminalAndNothingPipedSaysHowToGiveTheKey()
    {
        using var cli = new CliRunner();

        var result = await cli.RunAsync("keys", "find");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: no key: there is no terminal to ask on; nothing was sent\nhint: pipe it in: keysctl keys find < key-file\n", result.Stderr);
        Assert.Empty(cli.Api.Requests);
    }

    [Fact]
    public async Task KeysFindGivenTheKeyAsAnArgumentSaysToPipeItAndDoesNotRepeatIt()
    {
        using var cli = new CliRunner();

        var result = await cli.RunAsync("keys", "find", Fixtures.SecretValue);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith(
            "error: keys find takes no key on the command line, where shell history and ps would keep it: pipe it in, or type it at the prompt\n",
            result.Stderr);
        Assert.DoesNotContain(Fixtures.SecretValue, result.Stderr);
        Assert.Contains("sk_Sec…", result.Stderr);
    }

    [Fact]
    public async Task KeysFindOfAKeyNotInTheProjectsTheTokenMaySeeExitsThreeWithTheApisMessage()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ =>
            StubKeyAdmin.Error(HttpStatusCode.NotFound, 5, "No key has that value in the projects this token may see.", "KEY_NOT_FOUND")));

        var result = await cli.RunPipedAsync(Fixtures.WellFormedSecretKey, "keys", "find");

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("error: No key has that value in the projects this token may see. (KEY_NOT_FOUND)\n", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task KeysFindAsJsonIsTheApisAnswer()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(PublishableKey)));

        var result = await cli.RunPipedAsync(Fixtures.WellFormedSecretKey, "keys", "find", "-o", "json");

        Assert.Equal(0, result.ExitCode);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(PublishableKey), JsonNode.Parse(result.Stdout)), result.Stdout);
        Assert.Empty(result.Stderr);
    }

    [Theory]
    [InlineData(new[] { "--name", "Renamed" }, """{"name":"Renamed"}""")]
    [InlineData(new[] { "--default-rate-limit", "1000/1m" }, """{"defaultRateLimit":{"limit":1000,"windowSeconds":60,"mode":"local"}}""")]
    [InlineData(new[] { "--default-rate-limit", "50000/1d,global" }, """{"defaultRateLimit":{"limit":50000,"windowSeconds":86400,"mode":"global"}}""")]
    [InlineData(new[] { "--no-default-rate-limit" }, """{"defaultRateLimit":null}""")]
    [InlineData(new[] { "--max-secret-lifetime", "90" }, """{"maxSecretKeyLifetimeDays":90}""")]
    [InlineData(new[] { "--no-max-secret-lifetime" }, """{"maxSecretKeyLifetimeDays":0}""")]
    [InlineData(new[] { "--no-max-secret-lifetime", "--name", "N", "--no-default-rate-limit" }, """{"name":"N","defaultRateLimit":null,"maxSecretKeyLifetimeDays":0}""")]
    public async Task ProjectsUpdateSendsAPatchWithOnlyTheFieldsItsOptionsName(string[] options, string body)
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(Fixtures.Project)));

        var result = await cli.RunAsync(["projects", "update", "prj_1", .. options]);

        Assert.True(result.ExitCode == 0, result.Stderr);
        var request = Assert.Single(cli.Api.Requests);
        Assert.Equal(HttpMethod.Patch, request.Method);
        Assert.Equal("/v1/projects/prj_1", request.Target);
        Assert.Equal(body, request.Body);
    }

    [Fact]
    public async Task ProjectsUpdatePrintsThePoliciesAndAsJsonWhatTheApiAnswered()
    {
        const string updated =
            """{"id":"prj_1","name":"My App","environments":[{"name":"dev","createdAt":"2030-01-01T00:00:00Z"}],"createdAt":"2030-01-01T00:00:00Z","defaultRateLimit":{"limit":"5000","windowSeconds":3600,"mode":"global"},"maxSecretKeyLifetimeDays":90}""";
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(updated)));

        var table = await cli.RunAsync("projects", "update", "prj_1", "--default-rate-limit", "5000/1h,global", "--max-secret-lifetime", "90");
        var json = await cli.RunAsync("projects", "update", "prj_1", "--max-secret-lifetime", "90", "-o", "json");

        Assert.Equal(0, table.ExitCode);
        var lines = table.Stdout.Split('\n');
        Assert.Equal("5000/1h,global", Field(lines, "Default rate limit"));
        Assert.Equal("90 days", Field(lines, "Secret keys expire within"));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(updated), JsonNode.Parse(json.Stdout)), json.Stdout);
    }

    public static TheoryData<string[], string?> NewCommands => new()
    {
        { [.. Update, "--rate-limit", "100/1m"], null },
        { ["keys", "disable", "key_1", "-p", "prj_1", "-e", "dev"], null },
        { ["keys", "enable", "key_1", "-p", "prj_1", "-e", "dev"], null },
        { ["keys", "find"], Fixtures.WellFormedSecretKey },
        { ["projects", "update", "prj_1", "--max-secret-lifetime", "90"], null },
        { ["keys", "list", "-p", "prj_1", "-e", "dev", "--status", "active"], null },
    };

    [Theory]
    [MemberData(nameof(NewCommands))]
    public async Task AnApiRefusalOfANewCommandIsItsMessageAndCodeOnStderrAndExitsOne(string[] args, string? stdin)
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ =>
            StubKeyAdmin.Error(HttpStatusCode.BadRequest, 3, "Refused for a reason.", "EXPIRY_TOO_LONG")));

        foreach (var output in new[] { "table", "json" })
        {
            var result = stdin is null
                ? await cli.RunAsync([.. args, "-o", output])
                : await cli.RunPipedAsync(stdin, [.. args, "-o", output]);

            Assert.Equal(1, result.ExitCode);
            Assert.Equal("error: Refused for a reason. (EXPIRY_TOO_LONG)\n", result.Stderr);
            Assert.Empty(result.Stdout);
        }
    }

    [Fact]
    public async Task TheStatusColumnIsTheApisWithHintsOfWhatWillBiteSoonAndTheTableKeepsItsColumns()
    {
        // Now is 2030-01-15 12:00Z.
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok($$"""
            {"keys":[
              {{Fixtures.Key("key_soon", "soon", "dev", extra: ",\"status\":\"active\",\"expiresAt\":\"2030-01-18T13:00:00Z\"")}},
              {{Fixtures.Key("key_hours", "hours", "dev", extra: ",\"status\":\"active\",\"expiresAt\":\"2030-01-15T17:30:00Z\"")}},
              {{Fixtures.Key("key_later", "later", "dev", extra: ",\"status\":\"active\",\"expiresAt\":\"2030-01-23T12:00:00Z\"")}},
              {{Fixtures.Key("key_off", "off", "dev", extra: ",\"status\":\"disabled\",\"enabled\":false")}},
              {{Fixtures.Key("key_idle", "idle", "dev", extra: ",\"status\":\"active\",\"lastUsedAt\":\"2029-10-01T00:00:00Z\"")}},
              {{Fixtures.Key("key_never", "never", "dev", extra: ",\"status\":\"active\"", createdAt: "2029-09-01T00:00:00Z")}},
              {{Fixtures.Key("key_used", "used", "dev", extra: ",\"status\":\"active\",\"lastUsedAt\":\"2030-01-15T11:00:00Z\"", createdAt: "2029-01-01T00:00:00Z")}},
              {{Fixtures.Key("key_roll", "roll", "dev", extra: ",\"status\":\"rolling\",\"graceUntil\":\"2030-01-15T13:00:00Z\"")}},
              {{Fixtures.Key("key_exp", "exp", "dev", extra: ",\"status\":\"expired\",\"expiresAt\":\"2030-01-14T00:00:00Z\"", createdAt: "2029-01-01T00:00:00Z")}}
            ]}
            """)));

        var result = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev");

        Assert.Equal(0, result.ExitCode);
        var rows = result.Stdout.Split('\n');
        Assert.Equal("ID Name Type Environment Key Scopes Created Expires Last used Status", string.Join(' ', rows[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.EndsWith(" active; expires in 3 days", Row(rows, "key_soon"));
        Assert.EndsWith(" active; expires in 5 hours", Row(rows, "key_hours"));
        Assert.EndsWith(" active", Row(rows, "key_later"));
        Assert.EndsWith(" disabled", Row(rows, "key_off"));
        Assert.EndsWith(" active; unused 90+ days", Row(rows, "key_idle"));
        // Created more than 90 days ago and never used.
        Assert.EndsWith(" active; unused 90+ days", Row(rows, "key_never"));
        Assert.EndsWith(" active", Row(rows, "key_used"));
        Assert.EndsWith(" rolled, works until 2030-01-15 13:00Z", Row(rows, "key_roll"));
        Assert.EndsWith(" expired", Row(rows, "key_exp"));
    }

    /// <summary>The value of a field of a details table (a label, then the value, aligned).</summary>
    private static string Field(IEnumerable<string> lines, string label) =>
        Assert.Single(lines, l => l.StartsWith(label + " ", StringComparison.Ordinal))[label.Length..].Trim();

    private static string Row(IEnumerable<string> lines, string containing) => Assert.Single(lines, l => l.Contains(containing)).TrimEnd();
}
