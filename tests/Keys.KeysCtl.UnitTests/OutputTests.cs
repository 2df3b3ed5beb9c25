using System.Net;
using System.Text.Json;

namespace Keys.KeysCtl.UnitTests;

/// <summary>What each command sends, and what it prints: tables, JSON, and secrets once, on stdout only.</summary>
public sealed class OutputTests
{
    private static readonly string[] CreateSecret =
        ["keys", "create", "-p", "prj_1", "-e", "dev", "--name", "billing", "--type", "secret"];

    [Fact]
    public async Task ANewSecretKeyIsLabelledAndLastOnStdoutAndStderrOnlyWarns()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(Fixtures.CreatedKey())));

        var result = await cli.RunAsync(CreateSecret);

        Assert.Equal(0, result.ExitCode);
        var lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Equal("Secret key (shown once, store it now):", lines[^2]);
        Assert.Equal(Fixtures.SecretValue, lines[^1]);
        Assert.Contains("key_new", result.Stdout);
        Assert.Equal("warning: this is the only time the secret key's value is shown: store it now\n", result.Stderr);
        Assert.DoesNotContain(Fixtures.SecretValue, result.Stderr);
    }

    [Fact]
    public async Task ANewSecretKeyAsJsonIsTheApisAnswerAloneOnStdout()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(Fixtures.CreatedKey())));

        var result = await cli.RunAsync([.. CreateSecret, "--output", "json"]);

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(Fixtures.SecretValue, json.RootElement.GetProperty("value").GetString());
        Assert.Equal("key_new", json.RootElement.GetProperty("key").GetProperty("id").GetString());
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public async Task KeysCreateSendsNameTypeScopesAndAnExpiryFromNow()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(Fixtures.CreatedKey())));

        await cli.RunAsync(
            [.. CreateSecret, "--scope", "orders:read,orders:create", "--scope", "*:read", "--expires", "30d"]);

        var request = Assert.Single(cli.Api.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/v1/projects/prj_1/environments/dev/keys", request.Target);
        Assert.Equal(
            """{"name":"billing","type":"secret","scopes":["orders:read","orders:create","*:read"],"expiresAt":"2030-02-14T12:00:00Z"}""",
            request.Body);
    }

    [Fact]
    public async Task APublishableKeysValueIsShownWithoutAWarning()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(
            $$"""{"key":{{Fixtures.Key("key_pk", "web", "dev", "publishable", ",\"value\":\"pk_Public\"")}},"value":"pk_Public"}""")));

        var result = await cli.RunAsync("keys", "create", "-p", "prj_1", "-e", "dev", "--name", "web", "--type", "publishable");

        Assert.Equal(0, result.ExitCode);
        Assert.EndsWith("Publishable key:\npk_Public\n", result.Stdout);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public async Task KeysListWithoutAnEnvironmentListsEveryEnvironmentOfTheProject()
    {
        using var cli = new CliRunner(new StubKeyAdmin(request => request.Target switch
        {
            "/v1/projects/prj_1" => StubKeyAdmin.Ok(Fixtures.Project),
            "/v1/projects/prj_1/environments/dev/keys?pageSize=500" => StubKeyAdmin.Ok($$"""{"keys":[{{Fixtures.Key("key_a", "alpha", "dev")}}]}"""),
            "/v1/projects/prj_1/environments/prod/keys?pageSize=500" => StubKeyAdmin.Ok($$"""{"keys":[{{Fixtures.Key("key_b", "beta", "prod")}}]}"""),
            _ => StubKeyAdmin.Error(HttpStatusCode.NotFound, 5, "no", "NOPE"),
        }));

        var table = await cli.RunAsync("keys", "list", "-p", "prj_1");
        var json = await cli.RunAsync("keys", "list", "-p", "prj_1", "-o", "json");

        Assert.Equal(0, table.ExitCode);
        var rows = table.Stdout.Split('\n');
        Assert.Contains(rows, r => r.Contains("key_a") && r.Contains("alpha") && r.Contains("dev") && r.Contains("sk_Secr…uvwx") && r.Contains("active"));
        Assert.Contains(rows, r => r.Contains("key_b") && r.Contains("beta") && r.Contains("prod"));
        using var parsed = JsonDocument.Parse(json.Stdout);
        Assert.Equal(["key_a", "key_b"], parsed.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task AKeysStatusSaysWhetherItWorks()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok($$"""
            {"keys":[
              {{Fixtures.Key("key_live", "live", "dev")}},
              {{Fixtures.Key("key_grace", "grace", "dev", extra: ",\"graceUntil\":\"2030-01-15T13:00:00Z\"")}},
              {{Fixtures.Key("key_gone", "gone", "dev", extra: ",\"graceUntil\":\"2030-01-15T11:00:00Z\"")}},
              {{Fixtures.Key("key_old", "old", "dev", extra: ",\"expiresAt\":\"2030-01-01T00:00:00Z\"")}}
            ]}
            """)));

        var result = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev");

        var rows = result.Stdout.Split('\n');
        Assert.EndsWith("active", Row(rows, "key_live"));
        Assert.EndsWith("rolled, works until 2030-01-15 13:00Z", Row(rows, "key_grace"));
        Assert.EndsWith("revoked", Row(rows, "key_gone"));
        Assert.EndsWith("expired", Row(rows, "key_old"));
    }

    [Fact]
    public async Task APipedTableKeepsEachRowOnOneLine()
    {
        var longName = new string('n', 64);
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok($$"""{"keys":[{{Fixtures.Key("key_long", longName, "dev", extra: ",\"scopes\":[\"orders:read\",\"orders:create\",\"invoices:read\"]")}}]}""")));

        var result = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev");

        var lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains(longName, lines[1]);
        Assert.Contains("orders:read, orders:create, invoices:read", lines[1]);
    }

    [Fact]
    public async Task NamesFromTheServerCannotSendControlSequencesToTheTerminal()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(
            """{"projects":[{"id":"prj_1","name":"evil\u001b]0;pwned\u0007\nnext","environments":[],"createdAt":"2030-01-01T00:00:00Z"}]}""")));

        var result = await cli.RunAsync("projects", "list");

        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain('\u001b', result.Stdout);
        Assert.DoesNotContain('\u0007', result.Stdout);
        Assert.Contains("evil?]0;pwned? next", result.Stdout);
    }

    [Fact]
    public async Task KeysDeleteSendsTheConfirmNameAndIdsCannotReachAnotherRoute()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok("""{"id":"key_1","deleted":true}""")));

        var result = await cli.RunAsync("keys", "delete", "key_1", "-p", "prj_1/../../x", "-e", "dev", "--confirm-name", "my key&x=1");
        var dots = await cli.RunAsync("keys", "delete", "..", "-p", "prj_1", "-e", "dev", "--confirm-name", "k");

        Assert.Equal(0, result.ExitCode);
        var request = Assert.Single(cli.Api.Requests);
        Assert.Equal(HttpMethod.Delete, request.Method);
        Assert.Equal("/v1/projects/prj_1%2F..%2F..%2Fx/environments/dev/keys/key_1?confirmName=my%20key%26x%3D1", request.Target);
        Assert.Equal("Deleted key key_1 (my key&x=1): gateways reject it from now on.\n", result.Stdout);
        Assert.Equal(1, dots.ExitCode);
        Assert.Equal("error: '..' is not an ID or a name\n", dots.Stderr);
    }

    [Fact]
    public async Task KeysRollSendsTheGraceInSecondsAndShowsTheNewSecretOnce()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(
            $$"""{"key":{{Fixtures.Key("key_new", "billing", "dev")}},"value":"{{Fixtures.SecretValue}}","previousKey":{{Fixtures.Key("key_old", "billing", "dev", extra: ",\"graceUntil\":\"2030-01-15T13:00:00Z\"")}}}""")));

        var result = await cli.RunAsync("keys", "roll", "key_old", "-p", "prj_1", "-e", "dev", "--grace", "1h", "--expires", "2030-06-01");

        Assert.Equal(0, result.ExitCode);
        var request = Assert.Single(cli.Api.Requests);
        Assert.Equal("/v1/projects/prj_1/environments/dev/keys/key_old:roll", request.Target);
        Assert.Equal("""{"gracePeriodSeconds":3600,"expiresAt":"2030-06-01T00:00:00Z"}""", request.Body);
        Assert.StartsWith("Rolled key_old: it keeps working until 2030-01-15 13:00:00Z.", result.Stdout);
        Assert.EndsWith($"\n{Fixtures.SecretValue}\n", result.Stdout);
        Assert.Single(result.Stdout.Split(Fixtures.SecretValue)[1..]);
        Assert.DoesNotContain(Fixtures.SecretValue, result.Stderr);
    }

    [Theory]
    [InlineData(new string[0], "/v1/audit?pageSize=100")]
    [InlineData(new[] { "-p", "prj_1" }, "/v1/projects/prj_1/audit?pageSize=100")]
    [InlineData(new[] { "--project", "prj_1", "--limit", "5" }, "/v1/projects/prj_1/audit?pageSize=5")]
    [InlineData(new[] { "-p", "prj_1", "--all" }, "/v1/projects/prj_1/audit?pageSize=1000")]
    public async Task AuditAsksForOneProjectsEventsOrEveryones(string[] options, string target)
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(
            """{"events":[{"id":"7","action":"key.created","keyId":"key_1","keyName":"billing","environment":"dev","actor":"ana","occurredAt":"2030-01-15T11:59:00Z","actorId":"opr_ana","projectId":"prj_1"}]}""")));

        var result = await cli.RunAsync(["audit", .. options]);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(target, Assert.Single(cli.Api.Requests).Target);
        var row = Row(result.Stdout.Split('\n'), "key.created");
        Assert.Contains("2030-01-15 11:59:00Z", row);
        Assert.Equal(!options.Contains("-p") && !options.Contains("--project"), result.Stdout.Split('\n')[0].Contains("Project"));
        Assert.Contains("billing (key_1)", row);
        Assert.Contains("ana", row);
    }

    [Fact]
    public async Task OperatorsCreateSendsRoleProjectsAndExpiryAndShowsTheTokenOnce()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(
            $$"""{"operator":{{Fixtures.CurrentOperator}},"token":"{{Fixtures.OperatorToken}}"}""")));

        var table = await cli.RunAsync("operators", "create", "--name", "ana", "--role", "editor", "-p", "prj_1", "-p", "prj_2", "--expires", "12h");
        var json = await cli.RunAsync("operators", "create", "--name", "ana", "--role", "editor", "-o", "json");

        Assert.Equal(0, table.ExitCode);
        Assert.Equal(
            """{"name":"ana","role":"editor","projectIds":["prj_1","prj_2"],"expiresAt":"2030-01-16T00:00:00Z"}""",
            cli.Api.Requests[0].Body);
        Assert.EndsWith($"Operator token (shown once, store it now):\n{Fixtures.OperatorToken}\n", table.Stdout);
        Assert.Equal("warning: this is the only time the operator token is shown: hand it over now\n", table.Stderr);

        using var parsed = JsonDocument.Parse(json.Stdout);
        Assert.Equal(Fixtures.OperatorToken, parsed.RootElement.GetProperty("token").GetString());
        Assert.Empty(json.Stderr);
    }

    [Fact]
    public async Task OperatorsRevokePostsToTheOperatorsRevokeRoute()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(
            """{"id":"opr_ana","name":"ana","role":"editor","revokedAt":"2030-01-15T12:00:00Z","revokedBy":"admin-token"}""")));

        var result = await cli.RunAsync("operators", "revoke", "opr_ana");

        Assert.Equal(0, result.ExitCode);
        var request = Assert.Single(cli.Api.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/v1/operators/opr_ana:revoke", request.Target);
        Assert.Equal("{}", request.Body);
        Assert.Equal("Revoked opr_ana (ana): its token stops working at once.\n", result.Stdout);
    }

    [Fact]
    public async Task FieldsANewerKeyAdminAddsAreIgnoredInTablesAndKeptInJson()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(
            """{"projects":[{"id":"prj_1","name":"App","environments":[],"createdAt":"2030-01-01T00:00:00Z","region":"eu"}]}""")));

        var table = await cli.RunAsync("projects", "list");
        var json = await cli.RunAsync("projects", "list", "-o", "json");

        Assert.Equal(0, table.ExitCode);
        Assert.Contains("prj_1", table.Stdout);
        using var parsed = JsonDocument.Parse(json.Stdout);
        Assert.Equal("eu", parsed.RootElement.GetProperty("projects")[0].GetProperty("region").GetString());
    }

    [Fact]
    public async Task OnATerminalATableThatFitsHasBordersAndOneThatDoesNotIsPlainColumnsOneRowALine()
    {
        using var cli = new CliRunner(new StubKeyAdmin(request => StubKeyAdmin.Ok(request.Uri.AbsolutePath.EndsWith("/keys", StringComparison.Ordinal)
            ? $$"""{"keys":[{{Fixtures.Key("key_0123456789abcdefghijkl", "a-rather-long-key-name", "dev", extra: ",\"scopes\":[\"orders:read\"],\"expiresAt\":\"2031-01-01T00:00:00Z\"")}}]}"""
            : """{"projects":[{"id":"prj_1","name":"App","environments":[],"createdAt":"2030-01-01T00:00:00Z"}]}""")))
        {
            Terminal = true,
        };

        var narrow = await cli.RunAsync("projects", "list");
        var wide = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev");

        Assert.StartsWith("╭", narrow.Stdout);
        Assert.Contains("│ prj_1 ", narrow.Stdout);
        var lines = wide.Stdout.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.DoesNotContain("│", wide.Stdout);
        Assert.Contains("key_0123456789abcdefghijkl", lines[1]);
        Assert.Contains("2031-01-01 00:00Z", lines[1]);
    }

    private static string Row(IEnumerable<string> lines, string containing) => Assert.Single(lines, l => l.Contains(containing)).TrimEnd();
}
