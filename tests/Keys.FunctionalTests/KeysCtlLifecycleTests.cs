using System.Text.Json;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>
/// keysctl's key lifecycle and policy commands against the real system: keys updated in place, disabled and enabled,
/// found by their value; project policies; list filters. They need KeyAdmin's UpdateKey, UpdateProject, FindKey and
/// ListKeys filters. Each test works in a project of its own.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class KeysCtlLifecycleTests(KeysAppFixture fixture) : IDisposable
{
    private readonly KeysCtlRunner _cli = new(fixture.App.GetEndpoint("key-admin", "http"), fixture.AdminToken);

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();

    [Fact]
    public async Task KeysUpdateChangesOnlyWhatItsOptionsNameAndClearsWhatTheirOppositesName()
    {
        var project = await _admin.CreateProjectAsync();
        var created = await Ok("keys", "create", "-p", project.Id, "-e", "dev", "--name", "billing", "--type", "secret", "--scope", "orders:read", "--expires", "30d", "-o", "json");
        var id = created.RootElement.GetProperty("key").GetProperty("id").GetString()!;
        var expiresAt = created.RootElement.GetProperty("key").GetProperty("expiresAt").GetDateTimeOffset();

        using var set = await Ok(
            "keys", "update", id, "-p", project.Id, "-e", "dev", "--rate-limit", "100/1m", "--allow-cidr", "203.0.113.0/24",
            "--metadata", """{"team":"billing"}""", "-o", "json");
        var key = await ListedKeyAsync(project.Id, id);

        // What was named changed; the name, scopes and expiry were not named and are as they were.
        Assert.Equal(100, long.Parse(key.GetProperty("rateLimit").GetProperty("limit").ToString(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(60, key.GetProperty("rateLimit").GetProperty("windowSeconds").GetInt32());
        Assert.Equal(["203.0.113.0/24"], Strings(key, "allowedCidrs"));
        Assert.Equal("billing", key.GetProperty("metadata").GetProperty("team").GetString());
        Assert.Equal("billing", key.GetProperty("name").GetString());
        Assert.Equal(["orders:read"], Strings(key, "scopes"));
        Assert.Equal<DateTimeOffset?>(expiresAt, key.TryGetProperty("expiresAt", out var kept) ? kept.GetDateTimeOffset() : null);
        Assert.Equal(id, set.RootElement.GetProperty("id").GetString());

        var table = await _cli.RunAsync(
            "keys", "update", id, "-p", project.Id, "-e", "dev", "--no-expiry", "--no-rate-limit", "--clear-allowlist", "--clear-metadata", "--name", "billing-2");
        var cleared = await ListedKeyAsync(project.Id, id);

        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.StartsWith($"Updated key {id} (billing-2).", table.Stdout);
        Assert.Equal("billing-2", cleared.GetProperty("name").GetString());
        Assert.False(cleared.TryGetProperty("expiresAt", out var expiry) && expiry.ValueKind != JsonValueKind.Null, cleared.ToString());
        Assert.False(cleared.TryGetProperty("rateLimit", out var limit) && limit.ValueKind != JsonValueKind.Null, cleared.ToString());
        Assert.Empty(Strings(cleared, "allowedCidrs"));
        Assert.True(!cleared.TryGetProperty("metadata", out var metadata) || metadata.ValueKind == JsonValueKind.Null || !metadata.EnumerateObject().Any(), cleared.ToString());
        Assert.Equal(["orders:read"], Strings(cleared, "scopes"));

        Assert.Contains(("key.updated", "billing-2"), await KeyEventsAsync(project.Id));
    }

    [Fact]
    public async Task DisableSwitchesTheKeyOffAndEnableBackOnAuditedAsSuch()
    {
        var project = await _admin.CreateProjectAsync();
        var key = (await _admin.CreateKeyAsync(project.Id, "dev", "switch", "secret")).Key;

        var disable = await _cli.RunAsync("keys", "disable", key.Id, "-p", project.Id, "-e", "dev");
        var disabled = await ListedKeyAsync(project.Id, key.Id);
        var listed = await _cli.RunAsync("keys", "list", "-p", project.Id, "-e", "dev");
        using var enable = await Ok("keys", "enable", key.Id, "-p", project.Id, "-e", "dev", "-o", "json");
        var enabled = await ListedKeyAsync(project.Id, key.Id);

        Assert.True(disable.ExitCode == 0, disable.ToString());
        Assert.Equal($"Disabled key {key.Id} (switch): gateways refuse it until it is enabled again (keysctl keys enable).\n", disable.Stdout);
        Assert.Equal("disabled", disabled.GetProperty("status").GetString());
        Assert.False(disabled.GetProperty("enabled").GetBoolean());
        Assert.Contains(" disabled", Assert.Single(listed.Stdout.Split('\n'), l => l.Contains(key.Id)));

        Assert.True(enable.RootElement.GetProperty("enabled").GetBoolean());
        Assert.Equal("active", enabled.GetProperty("status").GetString());

        var events = await KeyEventsAsync(project.Id);
        Assert.Equal([("key.enabled", "switch"), ("key.disabled", "switch"), ("key.created", "switch")], events);
    }

    [Fact]
    public async Task KeysFindNamesTheKeyReadFromStdinDeletedOnesTooAnUnknownKeyExitsThreeAndWhatIsNotAKeyIsNotSent()
    {
        var project = await _admin.CreateProjectAsync();
        var created = await _admin.CreateKeyAsync(project.Id, "staging", "leaked", "secret");

        var (found, sent) = await RunRecordedAsync(created.Value + "\n", "keys", "find");
        using var foundJson = await OkPiped(created.Value, "keys", "find", "-o", "json");
        var deleted = await _admin.DeleteKeyAsync(project.Id, "staging", created.Key.Id, "leaked");
        deleted.EnsureSuccessStatusCode();
        using var afterDelete = await OkPiped(created.Value, "keys", "find", "-o", "json");
        var unknown = await _cli.RunPipedAsync(KeyString.Generate(ApiKeyType.Secret), "keys", "find");
        var (garbage, garbageSent) = await RunRecordedAsync("sk_notakey", "keys", "find");
        var (token, tokenSent) = await RunRecordedAsync(fixture.AdminToken, "keys", "find");

        Assert.True(found.ExitCode == 0, found.ToString());
        foreach (var expected in new[] { project.Id, "staging", created.Key.Id, "leaked", "secret", "active" })
        {
            Assert.Contains(expected, found.Stdout);
        }

        Assert.DoesNotContain(created.Value, found.Stdout + found.Stderr);
        // What went over the wire to the real KeyAdmin: the key in a POST body, and in no URL.
        var request = Assert.Single(sent);
        Assert.Equal((HttpMethod.Post, "/v1/keys:find"), (request.Method, request.Uri.PathAndQuery));
        Assert.Contains(created.Value, request.Body);
        Assert.Equal(created.Key.Id, foundJson.RootElement.GetProperty("id").GetString());
        Assert.Equal(project.Id, foundJson.RootElement.GetProperty("projectId").GetString());

        Assert.Equal("deleted", afterDelete.RootElement.GetProperty("status").GetString());
        Assert.InRange(afterDelete.RootElement.GetProperty("deletedAt").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));

        // Not ours, or not reachable: a script tells them apart (3, 1); what is not a key is not sent at all (2).
        Assert.Equal(3, unknown.ExitCode);
        Assert.EndsWith("(KEY_NOT_FOUND)\n", unknown.Stderr);
        Assert.Empty(unknown.Stdout);
        Assert.Equal(2, garbage.ExitCode);
        Assert.Contains("nothing was sent", garbage.Stderr);
        Assert.DoesNotContain("sk_notakey", garbage.Stderr);
        Assert.Empty(garbageSent);
        Assert.Equal(2, token.ExitCode);
        Assert.DoesNotContain(fixture.AdminToken, token.Stderr);
        Assert.Empty(tokenSent);

        // The key is in no service's log, where a URL of the call would have put it.
        Assert.DoesNotContain(created.Value, await fixture.ReadAllLogsAsync());
    }

    [Fact]
    public async Task ProjectsUpdateSetsThePoliciesKeyAdminThenEnforcesAndClearsThem()
    {
        var project = await _admin.CreateProjectAsync();

        using var set = await Ok("projects", "update", project.Id, "--default-rate-limit", "1000/1m,global", "--max-secret-lifetime", "90", "-o", "json");
        var tooLong = await _cli.RunAsync("keys", "create", "-p", project.Id, "-e", "dev", "--name", "long", "--type", "secret", "--expires", "365d");
        var never = await _cli.RunAsync("keys", "create", "-p", project.Id, "-e", "dev", "--name", "never", "--type", "secret");
        var table = await _cli.RunAsync("projects", "update", project.Id, "--no-default-rate-limit", "--no-max-secret-lifetime", "--name", "Renamed");

        Assert.Equal("1000", set.RootElement.GetProperty("defaultRateLimit").GetProperty("limit").ToString());
        Assert.Equal("global", set.RootElement.GetProperty("defaultRateLimit").GetProperty("mode").GetString());
        Assert.Equal(90, set.RootElement.GetProperty("maxSecretKeyLifetimeDays").GetInt32());
        Assert.Equal(1, tooLong.ExitCode);
        Assert.EndsWith("(EXPIRY_TOO_LONG)\n", tooLong.Stderr);
        Assert.Equal(1, never.ExitCode);
        Assert.EndsWith("(EXPIRY_REQUIRED)\n", never.Stderr);

        Assert.True(table.ExitCode == 0, table.ToString());
        var lines = table.Stdout.Split('\n');
        Assert.EndsWith(" Renamed", Assert.Single(lines, l => l.StartsWith("Name ", StringComparison.Ordinal)).TrimEnd());
        Assert.EndsWith(" none", Assert.Single(lines, l => l.StartsWith("Default rate limit ", StringComparison.Ordinal)).TrimEnd());
        Assert.EndsWith(" no limit", Assert.Single(lines, l => l.StartsWith("Secret keys expire within ", StringComparison.Ordinal)).TrimEnd());
        Assert.Contains("project.updated", (await _admin.ListAuditEventsAsync(project.Id)).Events.Select(e => e.Action));
    }

    [Fact]
    public async Task KeysListFiltersByTypeStatusAndSearch()
    {
        var project = await _admin.CreateProjectAsync();
        var web = (await _admin.CreateKeyAsync(project.Id, "dev", "web-frontend", "publishable")).Key;
        var server = (await _admin.CreateKeyAsync(project.Id, "dev", "billing-server", "secret")).Key;
        var worker = (await _admin.CreateKeyAsync(project.Id, "prod", "billing-worker", "secret")).Key;
        var off = await _cli.RunAsync("keys", "disable", worker.Id, "-p", project.Id, "-e", "prod");
        Assert.True(off.ExitCode == 0, off.ToString());

        Assert.Equal(Ids(web.Id), await ListedIdsAsync("-p", project.Id, "--type", "publishable"));
        Assert.Equal(Ids(worker.Id), await ListedIdsAsync("-p", project.Id, "--status", "disabled"));
        Assert.Equal(Ids(web.Id, server.Id), await ListedIdsAsync("-p", project.Id, "--status", "active"));
        Assert.Equal(Ids(server.Id, worker.Id), await ListedIdsAsync("-p", project.Id, "--search", "BILLING"));
        Assert.Equal(Ids(server.Id), await ListedIdsAsync("-p", project.Id, "-e", "dev", "--search", "billing", "--type", "secret"));
        Assert.Equal(Ids(server.Id), await ListedIdsAsync("-p", project.Id, "--search", server.MaskedKey[^4..]));
    }

    [Theory]
    [InlineData("INVALID_RATE_LIMIT", "--rate-limit", "100/2d")]
    [InlineData("INVALID_ALLOWED_CIDRS", "--allow-cidr", "203.0.113.0/99")]
    [InlineData("ALLOWLIST_NOT_FOR_KEY_TYPE", "--allow-origin", "https://app.example.com")]
    // Metadata may not hold an API key ({key}: a well-formed one, made for the test).
    [InlineData("INVALID_METADATA", "--metadata", """{"note":"{key}"}""")]
    [InlineData("INVALID_EXPIRY", "--expires", "2001-01-01")]
    public async Task AnUpdateTheApiRefusesExitsOneWithItsCodeAndChangesNothing(string code, string option, string value)
    {
        var project = await _admin.CreateProjectAsync();
        var key = (await _admin.CreateKeyAsync(project.Id, "dev", "strict", "secret")).Key;
        var metadataKey = KeyString.Generate(ApiKeyType.Secret);
        value = value.Replace("{key}", metadataKey, StringComparison.Ordinal);

        var result = await _cli.RunAsync("keys", "update", key.Id, "-p", project.Id, "-e", "dev", option, value);
        var after = await ListedKeyAsync(project.Id, key.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.EndsWith($"({code})\n", result.Stderr);
        Assert.Empty(result.Stdout);
        Assert.DoesNotContain(metadataKey, result.Stderr);
        Assert.Equal("active", after.GetProperty("status").GetString());
        Assert.False(after.TryGetProperty("rateLimit", out var limit) && limit.ValueKind != JsonValueKind.Null);
        Assert.Empty(Strings(after, "allowedCidrs"));
    }

    [Fact]
    public async Task AuditShowsTheNewest100EventsUnlessLimitOrAllSaysOtherwise()
    {
        var project = await _admin.CreateProjectAsync();
        foreach (var chunk in Enumerable.Range(0, 100).Chunk(20))
        {
            await Task.WhenAll(chunk.Select(async i =>
                (await _admin.Http.PostAsJsonAsync($"/v1/projects/{project.Id}/environments", new { name = $"env-{i:000}" })).EnsureSuccessStatusCode()));
        }

        using var newest = await Ok("audit", "-p", project.Id, "-o", "json");
        using var every = await Ok("audit", "-p", project.Id, "--all", "-o", "json");
        using var five = await Ok("audit", "-p", project.Id, "--limit", "5", "-o", "json");

        var all = every.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetRawText()).ToList();
        Assert.True(all.Count > 100, $"{all.Count} events");
        Assert.Equal(all.Take(100), newest.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetRawText()));
        Assert.Equal(all.Take(5), five.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetRawText()));
    }

    public void Dispose() => _cli.Dispose();

    /// <summary>keysctl in-process against the real KeyAdmin, through a handler that keeps each request as it was sent.</summary>
    private async Task<(KeysCtlResult Result, List<(HttpMethod Method, Uri Uri, string Body)> Sent)> RunRecordedAsync(string stdin, params string[] args)
    {
        using var recorder = new Recorder();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var console = new Keys.KeysCtl.KeysCtlConsole(stdout, stderr, new StringReader(stdin), _cli.Environment) { Handler = recorder };
        var exitCode = await Keys.KeysCtl.KeysCtlApp.RunAsync(args, console);
        return (new KeysCtlResult(exitCode, stdout.ToString(), stderr.ToString()), recorder.Sent);
    }

    private async Task<JsonDocument> Ok(params string[] args)
    {
        var result = await _cli.RunAsync(args);
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', args)}: {result}");
        return JsonDocument.Parse(result.Stdout);
    }

    private async Task<JsonDocument> OkPiped(string stdin, params string[] args)
    {
        var result = await _cli.RunPipedAsync(stdin, args);
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', args)}: {result}");
        return JsonDocument.Parse(result.Stdout);
    }

    /// <summary>The key as <c>keys list -o json</c> shows it now.</summary>
    private async Task<JsonElement> ListedKeyAsync(string projectId, string keyId)
    {
        using var list = await Ok("keys", "list", "-p", projectId, "-o", "json");
        return list.RootElement.GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("id").GetString() == keyId).Clone();
    }

    private async Task<List<string?>> ListedIdsAsync(params string[] options)
    {
        using var list = await Ok(["keys", "list", .. options, "-o", "json"]);
        return [.. list.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("id").GetString()).Order(StringComparer.Ordinal)];
    }

    private static List<string?> Ids(params string[] ids) => [.. ids.Order(StringComparer.Ordinal)];

    private static List<string?> Strings(JsonElement key, string field) =>
        key.TryGetProperty(field, out var values) && values.ValueKind == JsonValueKind.Array ? [.. values.EnumerateArray().Select(v => v.GetString())] : [];

    private async Task<List<(string?, string?)>> KeyEventsAsync(string projectId)
    {
        using var audit = await Ok("audit", "-p", projectId, "-o", "json");
        return
        [
            .. audit.RootElement.GetProperty("events").EnumerateArray()
                .Where(e => e.GetProperty("action").GetString()!.StartsWith("key.", StringComparison.Ordinal))
                .Select(e => (e.GetProperty("action").GetString(), e.GetProperty("keyName").GetString())),
        ];
    }

    private sealed class Recorder() : DelegatingHandler(new SocketsHttpHandler { AllowAutoRedirect = false })
    {
        public List<(HttpMethod Method, Uri Uri, string Body)> Sent { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken);
            Sent.Add((request.Method, request.RequestUri!, body));
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
