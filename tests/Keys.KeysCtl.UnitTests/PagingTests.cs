using System.Net;
using System.Text.Json;
using System.Web;

namespace Keys.KeysCtl.UnitTests;

/// <summary>
/// The list commands read every page (<c>pageSize</c>, <c>pageToken</c> → <c>nextPageToken</c>), so that a listing is
/// complete: each item printed once, in the API's order, and the JSON one array of all of them.
/// </summary>
public sealed class PagingTests
{
    // Tokens are opaque, and may hold what a query string must escape.
    private static readonly string[] Tokens = ["", "p2+/=", "p3&x=1"];

    [Fact]
    public async Task KeysListReadsEveryPageAndPrintsEachKeyOnce()
    {
        using var cli = new CliRunner(Pages("keys", KeyPage("key_a", "key_b"), KeyPage("key_c", "key_d"), KeyPage("key_e")));

        var table = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev");
        var json = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev", "-o", "json");

        Assert.Equal(0, table.ExitCode);
        foreach (var id in new[] { "key_a", "key_b", "key_c", "key_d", "key_e" })
        {
            Assert.Single(table.Stdout.Split('\n'), line => line.Contains(id));
        }

        Assert.Equal(
            [
                "/v1/projects/prj_1/environments/dev/keys?pageSize=500",
                "/v1/projects/prj_1/environments/dev/keys?pageSize=500&pageToken=p2%2B%2F%3D",
                "/v1/projects/prj_1/environments/dev/keys?pageSize=500&pageToken=p3%26x%3D1",
            ],
            cli.Api.Requests.Take(3).Select(r => r.Target));

        Assert.Equal(0, json.ExitCode);
        using var parsed = JsonDocument.Parse(json.Stdout);
        Assert.Equal(["keys"], parsed.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            ["key_a", "key_b", "key_c", "key_d", "key_e"],
            parsed.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task KeysListWithoutAnEnvironmentReadsEveryPageOfEachEnvironment()
    {
        var dev = PageResponder("keys", KeyPage("key_d1"), KeyPage("key_d2"), KeyPage("key_d3"));
        var prod = PageResponder("keys", KeyPage("key_p1"), KeyPage("key_p2"), KeyPage("key_p3"));
        using var cli = new CliRunner(new StubKeyAdmin(request => request.Uri.AbsolutePath switch
        {
            "/v1/projects/prj_1" => StubKeyAdmin.Ok(Fixtures.Project),
            "/v1/projects/prj_1/environments/dev/keys" => dev(request),
            _ => prod(request),
        }));

        var result = await cli.RunAsync("keys", "list", "-p", "prj_1", "-o", "json");

        Assert.Equal(0, result.ExitCode);
        using var parsed = JsonDocument.Parse(result.Stdout);
        Assert.Equal(
            ["key_d1", "key_d2", "key_d3", "key_p1", "key_p2", "key_p3"],
            parsed.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task KeysListSendsTheFiltersWithEveryPage()
    {
        using var cli = new CliRunner(Pages(
            "keys", DisabledKey("key_a"), DisabledKey("key_b"), DisabledKey("key_c")));

        var result = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev", "--type", "secret", "--status", "disabled", "--search", "bill ing&x");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(
            [
                "/v1/projects/prj_1/environments/dev/keys?pageSize=500&type=secret&status=disabled&q=bill%20ing%26x",
                "/v1/projects/prj_1/environments/dev/keys?pageSize=500&type=secret&status=disabled&q=bill%20ing%26x&pageToken=p2%2B%2F%3D",
                "/v1/projects/prj_1/environments/dev/keys?pageSize=500&type=secret&status=disabled&q=bill%20ing%26x&pageToken=p3%26x%3D1",
            ],
            cli.Api.Requests.Select(r => r.Target));
    }

    [Theory]
    [InlineData("--status", "disabled")]
    [InlineData("--type", "publishable")]
    public async Task AKeyAdminThatIgnoresTheFiltersIsAnErrorNotAWrongListing(string option, string value)
    {
        // An older KeyAdmin: no status, no filtering, every key of both types.
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok(
            $$"""{"keys":[{{Fixtures.Key("key_s", "server", "dev")}},{{Fixtures.Key("key_p", "web", "dev", "publishable")}}]}""")));

        var result = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev", option, value);

        Assert.Equal(1, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.Equal(
            "error: KeyAdmin listed keys that --type or --status leave out\nhint: this KeyAdmin does not filter keys: it is older than this keysctl\n",
            result.Stderr);
    }

    [Fact]
    public async Task ProjectsListReadsEveryPage()
    {
        using var cli = new CliRunner(Pages("projects", ProjectPage("prj_a", "prj_b"), ProjectPage("prj_c"), ProjectPage("prj_d")));

        var table = await cli.RunAsync("projects", "list");
        var json = await cli.RunAsync("projects", "list", "-o", "json");

        Assert.Equal(0, table.ExitCode);
        foreach (var id in new[] { "prj_a", "prj_b", "prj_c", "prj_d" })
        {
            Assert.Single(table.Stdout.Split('\n'), line => line.Contains(id));
        }

        Assert.Equal("/v1/projects?pageSize=500", cli.Api.Requests[0].Target);
        using var parsed = JsonDocument.Parse(json.Stdout);
        Assert.Equal(["prj_a", "prj_b", "prj_c", "prj_d"], parsed.RootElement.GetProperty("projects").EnumerateArray().Select(p => p.GetProperty("id").GetString()));
        Assert.Equal(["projects"], parsed.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task AuditWithAllReadsEveryPage()
    {
        using var cli = new CliRunner(Pages("events", EventPage(9, 8), EventPage(7, 6), EventPage(5)));

        var table = await cli.RunAsync("audit", "-p", "prj_1", "--all");
        var json = await cli.RunAsync("audit", "-p", "prj_1", "--all", "-o", "json");

        Assert.Equal(0, table.ExitCode);
        Assert.Equal(5, table.Stdout.Split('\n').Count(line => line.Contains("key.created")));
        Assert.Equal("/v1/projects/prj_1/audit?pageSize=1000", cli.Api.Requests[0].Target);
        Assert.Equal(3, cli.Api.Requests.Count / 2);
        using var parsed = JsonDocument.Parse(json.Stdout);
        Assert.Equal(["9", "8", "7", "6", "5"], parsed.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task AuditWithoutLimitOrAllShowsTheNewest100Events()
    {
        var ids = Enumerable.Range(1, 250).Reverse().ToArray();
        using var cli = new CliRunner(Pages("events", EventPage(ids[..60]), EventPage(ids[60..120]), EventPage(ids[120..180]), EventPage(ids[180..])));

        var json = await cli.RunAsync("audit", "-p", "prj_1", "-o", "json");
        var table = await cli.RunAsync("audit", "-p", "prj_1");

        Assert.Equal(0, json.ExitCode);
        using var parsed = JsonDocument.Parse(json.Stdout);
        Assert.Equal(ids[..100].Select(id => $"{id}"), parsed.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
        // Two pages of the stub's 60 hold the newest 100; the rest of the log is never read.
        Assert.Equal(
            ["/v1/projects/prj_1/audit?pageSize=100", "/v1/projects/prj_1/audit?pageSize=100&pageToken=p2%2B%2F%3D"],
            cli.Api.Requests.Take(2).Select(r => r.Target));
        Assert.Equal(4, cli.Api.Requests.Count);
        Assert.Equal(100, table.Stdout.Split('\n').Count(line => line.Contains("key.created")));
    }

    [Fact]
    public async Task AuditLimitIsACapOnTheEventsReadAndPrinted()
    {
        using var cli = new CliRunner(Pages("events", EventPage(9, 8), EventPage(7, 6), EventPage(5)));

        var result = await cli.RunAsync("audit", "-p", "prj_1", "--limit", "3", "-o", "json");

        Assert.Equal(0, result.ExitCode);
        // Pages of at most 3; the stub's pages hold 2, so two pages hold the newest 3, and the third is never asked for.
        Assert.Equal(
            ["/v1/projects/prj_1/audit?pageSize=3", "/v1/projects/prj_1/audit?pageSize=3&pageToken=p2%2B%2F%3D"],
            cli.Api.Requests.Select(r => r.Target));
        using var parsed = JsonDocument.Parse(result.Stdout);
        Assert.Equal(["9", "8", "7"], parsed.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task APageTokenSentTwiceStopsTheListingInsteadOfLoopingForEver()
    {
        using var cli = new CliRunner(new StubKeyAdmin(request => StubKeyAdmin.Ok(
            $$"""{"keys":[{{Fixtures.Key($"key_{Guid.NewGuid():N}", "k", "dev")}}],"nextPageToken":"again"}""")));

        var result = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev");

        Assert.Equal(1, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.StartsWith("error: KeyAdmin answered a page token it had already sent", result.Stderr);
        Assert.Equal(2, cli.Api.Requests.Count);
    }

    [Fact]
    public async Task AKeyAdminThatDoesNotPageIsOnePage()
    {
        using var cli = new CliRunner(new StubKeyAdmin(_ => StubKeyAdmin.Ok($$"""{"keys":[{{Fixtures.Key("key_a", "a", "dev")}}]}""")));

        var result = await cli.RunAsync("keys", "list", "-p", "prj_1", "-e", "dev", "-o", "json");

        Assert.Equal(0, result.ExitCode);
        Assert.Single(cli.Api.Requests);
    }

    /// <summary>A stub of a list call that answers page i for the i-th token of <see cref="Tokens"/>, and 400 for any other.</summary>
    internal static StubKeyAdmin Pages(string field, params string[] pages) => new(PageResponder(field, pages));

    internal static Func<SentRequest, HttpResponseMessage> PageResponder(string field, params string[] pages) => request =>
    {
        var token = HttpUtility.ParseQueryString(request.Uri.Query)["pageToken"] ?? "";
        var index = Array.IndexOf(Tokens, token);
        if (index < 0 || index >= pages.Length)
        {
            return StubKeyAdmin.Error(HttpStatusCode.BadRequest, 3, "Unknown page token.", "INVALID_PAGE_TOKEN");
        }

        var next = index + 1 < pages.Length ? JsonSerializer.Serialize(Tokens[index + 1]) : "\"\"";
        return StubKeyAdmin.Ok($$"""{"{{field}}":[{{pages[index]}}],"nextPageToken":{{next}}}""");
    };

    private static string KeyPage(params string[] ids) =>
        string.Join(',', ids.Select(id => Fixtures.Key(id, id.Replace("key_", "name-", StringComparison.Ordinal), "dev", extra: ",\"status\":\"active\"")));

    private static string DisabledKey(string id) => Fixtures.Key(id, id, "dev", extra: ",\"status\":\"disabled\"");

    private static string ProjectPage(params string[] ids) =>
        string.Join(',', ids.Select(id => $$"""{"id":"{{id}}","name":"{{id}}","environments":[],"createdAt":"2030-01-01T00:00:00Z"}"""));

    private static string EventPage(params int[] ids) =>
        string.Join(',', ids.Select(id => $$"""{"id":"{{id}}","action":"key.created","keyId":"key_{{id}}","keyName":"k{{id}}","environment":"dev","actor":"ana","occurredAt":"2030-01-15T11:59:00Z","actorId":"opr_ana","projectId":"prj_1"}"""));
}
