using System.Net;
using System.Text;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Npgsql;

namespace Keys.FunctionalTests;

/// <summary>KeyAdmin's REST API, rule by rule, against the real service and Postgres.</summary>
[Collection(KeysCollection.Name)]
public sealed class KeyAdminApiTests(KeysAppFixture fixture)
{
    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();

    [Fact]
    public async Task NewProjectHasAnIdAndTheDevStagingProdEnvironments()
    {
        var project = await _admin.CreateProjectAsync("My App");

        Assert.StartsWith("prj_", project.Id);
        Assert.Equal("My App", project.Name);
        Assert.Equal(["dev", "staging", "prod"], project.Environments.Select(e => e.Name));
    }

    [Fact]
    public async Task ProjectSettingsShowTheProjectIdNameAndEnvironments()
    {
        var project = await _admin.CreateProjectAsync("Settings");

        var settings = await KeyAdminClient.ReadAsync<ProjectDto>(await _admin.Http.GetAsync($"/v1/projects/{project.Id}"));
        var all = await _admin.ListProjectsAsync();

        Assert.Equal(project.Id, settings.Id);
        Assert.Equal("Settings", settings.Name);
        Assert.Equal(["dev", "staging", "prod"], settings.Environments.Select(e => e.Name));
        Assert.Contains(all.Projects, p => p.Id == project.Id);
    }

    [Fact]
    public async Task UnknownProjectIs404ProjectNotFound()
    {
        await KeyAdminClient.AssertErrorAsync(
            await _admin.Http.GetAsync("/v1/projects/prj_doesnotexist"), HttpStatusCode.NotFound, "PROJECT_NOT_FOUND");
        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync("prj_doesnotexist", "dev", new { name = "k", type = "secret" }), HttpStatusCode.NotFound, "PROJECT_NOT_FOUND");
        await KeyAdminClient.AssertErrorAsync(
            await _admin.Http.GetAsync("/v1/projects/prj_doesnotexist/audit"), HttpStatusCode.NotFound, "PROJECT_NOT_FOUND");
    }

    [Fact]
    public async Task UnknownEnvironmentIs404EnvironmentNotFound()
    {
        var project = await _admin.CreateProjectAsync();

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "qa", new { name = "k", type = "secret" }), HttpStatusCode.NotFound, "ENVIRONMENT_NOT_FOUND");
        await KeyAdminClient.AssertErrorAsync(
            await _admin.Http.GetAsync($"/v1/projects/{project.Id}/environments/qa/keys"), HttpStatusCode.NotFound, "ENVIRONMENT_NOT_FOUND");
    }

    [Fact]
    public async Task AddedEnvironmentTakesKeysAndCannotBeAddedTwice()
    {
        var project = await _admin.CreateProjectAsync();

        var added = await _admin.Http.PostAsJsonAsync($"/v1/projects/{project.Id}/environments", new { name = "qa" });
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        await _admin.CreateKeyAsync(project.Id, "qa", "qa-key", "publishable");

        await KeyAdminClient.AssertErrorAsync(
            await _admin.Http.PostAsJsonAsync($"/v1/projects/{project.Id}/environments", new { name = "qa" }), HttpStatusCode.Conflict, "ENVIRONMENT_EXISTS");
        await KeyAdminClient.AssertErrorAsync(
            await _admin.Http.PostAsJsonAsync($"/v1/projects/{project.Id}/environments", new { name = "QA Env" }), HttpStatusCode.BadRequest, "INVALID_ENVIRONMENT_NAME");
    }

    [Fact]
    public async Task ListIsNewestFirstAndShowsValuesOfPublishableKeysOnly()
    {
        var project = await _admin.CreateProjectAsync();
        var publishable = await _admin.CreateKeyAsync(project.Id, "dev", "web", "publishable");
        var secret = await _admin.CreateKeyAsync(project.Id, "dev", "server", "secret");

        var keys = (await _admin.ListKeysAsync(project.Id, "dev")).Keys;

        Assert.Equal([secret.Key.Id, publishable.Key.Id], keys.Select(k => k.Id));
        var listedPublishable = keys.Single(k => k.Id == publishable.Key.Id);
        Assert.Equal(publishable.Value, listedPublishable.Value);
        Assert.Equal("publishable", listedPublishable.Type);
        var listedSecret = keys.Single(k => k.Id == secret.Key.Id);
        Assert.Null(listedSecret.Value);
        Assert.Equal($"sk_{secret.Value[3..7]}…{secret.Value[^4..]}", listedSecret.MaskedKey);
        Assert.Equal("dev", listedSecret.Environment);
        Assert.NotEqual(default, listedSecret.CreatedAt);
    }

    [Fact]
    public async Task SecretValueAppearsInNoListAndNoLogOutput()
    {
        // What each service that sees the key writes for the request it sees it in: the gateway forwards it (to a path
        // of its own), KeyValidation validates it, KeyAdmin looks it up (the fixture turns these request logs on).
        var path = $"/demo/public/{Guid.NewGuid():N}";
        var requestLines = new Dictionary<string, string>
        {
            ["gateway"] = path,
            ["key-validation"] = "KeyValidationService/Validate",
            ["key-admin"] = "KeyAdminInternalService/LookupKey",
        };
        var before = await fixture.ReadLogsByResourceAsync();
        var linesBefore = requestLines.ToDictionary(r => r.Key, r => Occurrences(before[r.Key], r.Value));
        var project = await _admin.CreateProjectAsync();
        var secret = await _admin.CreateKeyAsync(project.Id, "dev", "reveal-once", "secret");
        using var gateway = fixture.CreateGatewayClient();
        await gateway.SendAsync(GatewayResponses.Get(path, secret.Value));
        await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", secret.Value[..^1] + "x"));

        var listJson = await _admin.Http.GetStringAsync($"/v1/projects/{project.Id}/environments/dev/keys");
        var hash = KeyHash.Of(secret.Value).ToArray();

        // The search below means something only if it reads what the requests that carried the key made each service
        // write, not only start-up lines: those requests' lines must be among what it reads. Lines reach the test a
        // moment after they are written.
        bool Seen(IReadOnlyDictionary<string, string> logs, string resource) => Occurrences(logs[resource], requestLines[resource]) > linesBefore[resource];
        var byResource = await fixture.ReadLogsByResourceAsync();
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !requestLines.Keys.All(r => Seen(byResource, r)) && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(100);
            byResource = await fixture.ReadLogsByResourceAsync();
        }

        var logs = string.Concat(byResource.Values);

        Assert.Contains(secret.Key.Id, listJson);
        Assert.DoesNotContain(secret.Value, listJson);
        Assert.All(requestLines.Keys, r => Assert.True(Seen(byResource, r), $"{r} logged nothing of the request that carried the key, so the search cannot see what it would log"));
        foreach (var forbidden in new[] { secret.Value, secret.Value[3..^6], Convert.ToHexString(hash), Convert.ToHexStringLower(hash), Convert.ToBase64String(hash) })
        {
            Assert.DoesNotContain(forbidden, logs);
        }
    }

    /// <summary>KeyAdmin keeps a key's hash, never its value, in any form: every column of every table is searched.</summary>
    [Fact]
    public async Task SecretValueIsInNoColumnOfAnyTable()
    {
        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        var project = await _admin.CreateProjectAsync();
        var secret = await _admin.CreateKeyAsync(project.Id, "dev", "stored-as-hash", "secret");
        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", secret.Value))).StatusCode);

        // A use is written back too (last used): searched once it is there.
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline && await LastUsedAsync() is null;)
        {
            await Task.Delay(100);
        }

        Assert.NotNull(await LastUsedAsync());
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand(
            "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables " +
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
            connection))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        // The value as text, its random part, and its bytes as a bytea column shows them.
        string[] forbidden = [secret.Value, secret.Value[3..^6], Convert.ToHexStringLower(Encoding.UTF8.GetBytes(secret.Value))];
        var found = new List<string>();
        var rowsOfTheKey = 0;
        foreach (var table in tables)
        {
            // A row cast to text holds every column, whatever its type.
            await using var rows = new NpgsqlCommand($"SELECT t::text FROM {table} t", connection);
            await using var reader = await rows.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var row = reader.GetString(0);
                rowsOfTheKey += row.Contains(secret.Key.Id, StringComparison.Ordinal) ? 1 : 0;
                found.AddRange(forbidden.Where(f => row.Contains(f, StringComparison.Ordinal)).Select(f => $"{table}: {row}"));
            }
        }

        Assert.Contains("public.api_key", tables);
        Assert.True(rowsOfTheKey > 0, $"No row of {string.Join(", ", tables)} names the key, so the search did not read what it made.");
        Assert.Empty(found);

        async Task<DateTimeOffset?> LastUsedAsync() => (await _admin.ListKeysAsync(project.Id, "dev")).Keys.Single().LastUsedAt;
    }

    [Fact]
    public async Task KeyPastedIntoANameOrAScopeIsRefusedAndNeverEchoedOrLogged()
    {
        var project = await _admin.CreateProjectAsync();
        var secret = KeyString.Generate(ApiKeyType.Secret);

        var asName = await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = secret, type = "secret" }), HttpStatusCode.BadRequest, "INVALID_KEY_NAME");
        var asScope = await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "k", type = "secret", scopes = new[] { "posts:read", secret } }),
            HttpStatusCode.BadRequest,
            "INVALID_SCOPE");

        Assert.DoesNotContain(secret, asName.Message);
        Assert.DoesNotContain(secret, asScope.Message);
        Assert.Contains("Scope 2 of 2", asScope.Message);
        Assert.DoesNotContain(secret, await fixture.ReadAllLogsAsync());
        Assert.Empty((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" leading-space")]
    [InlineData("trailing-space ")]
    [InlineData("slash/name")]
    [InlineData("new\nline")]
    [InlineData("émoji")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task InvalidKeyNameIs400(string name)
    {
        var project = await _admin.CreateProjectAsync();

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name, type = "secret" }), HttpStatusCode.BadRequest, "INVALID_KEY_NAME");
        Assert.Empty((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("my app key")]
    [InlineData("svc.billing_v2-prod")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task ValidKeyNameIsAccepted(string name)
    {
        var project = await _admin.CreateProjectAsync();

        var created = await _admin.CreateKeyAsync(project.Id, "dev", name, "publishable");

        Assert.Equal(name, created.Key.Name);
    }

    [Fact]
    public async Task DuplicateLiveNameIs409AndTheNameIsFreeAgainAfterDelete()
    {
        var project = await _admin.CreateProjectAsync();
        var first = await _admin.CreateKeyAsync(project.Id, "dev", "shared-name", "secret");

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "shared-name", type = "publishable" }), HttpStatusCode.Conflict, "KEY_NAME_TAKEN");
        await _admin.CreateKeyAsync(project.Id, "prod", "shared-name", "secret");

        Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(project.Id, "dev", first.Key.Id, "shared-name")).StatusCode);
        await _admin.CreateKeyAsync(project.Id, "dev", "shared-name", "secret");
    }

    [Fact]
    public async Task UnknownKeyTypeIs400()
    {
        var project = await _admin.CreateProjectAsync();

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "k", type = "restricted" }), HttpStatusCode.BadRequest, "INVALID_KEY_TYPE");
    }

    [Fact]
    public async Task ScopesAreCheckedAndKept()
    {
        var project = await _admin.CreateProjectAsync();

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "k", type = "secret", scopes = new[] { "posts:write" } }),
            HttpStatusCode.BadRequest,
            "INVALID_SCOPE");
        var created = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "k", type = "secret", scopes = new[] { "posts:read", "*:delete" } }));

        Assert.Equal(["posts:read", "*:delete"], created.Key.Scopes);
        Assert.Equal(["posts:read", "*:delete"], (await _admin.ListKeysAsync(project.Id, "dev")).Keys.Single().Scopes);
    }

    [Fact]
    public async Task ExpiryMustBeInTheFuture()
    {
        var project = await _admin.CreateProjectAsync();
        var future = DateTimeOffset.UtcNow.AddDays(30);

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "k", type = "secret", expiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) }),
            HttpStatusCode.BadRequest,
            "INVALID_EXPIRY");
        var created = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "k", type = "secret", expiresAt = future }));

        Assert.Equal(future.ToUnixTimeSeconds(), created.Key.ExpiresAt!.Value.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task BodyThatDoesNotParseIs400()
    {
        var project = await _admin.CreateProjectAsync();

        var response = await _admin.Http.PostAsync(
            $"/v1/projects/{project.Id}/environments/dev/keys", new StringContent("{\"name\": ", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    [Fact]
    public async Task DeleteWithAWrongOrMissingNameIs400AndChangesNothing()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "keep-me", "secret");

        await KeyAdminClient.AssertErrorAsync(
            await _admin.DeleteKeyAsync(project.Id, "dev", key.Key.Id, "keep-me-not"), HttpStatusCode.BadRequest, "CONFIRM_NAME_MISMATCH");
        await KeyAdminClient.AssertErrorAsync(
            await _admin.Http.DeleteAsync($"/v1/projects/{project.Id}/environments/dev/keys/{key.Key.Id}"), HttpStatusCode.BadRequest, "CONFIRM_NAME_REQUIRED");

        Assert.Single((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value))).StatusCode);
    }

    [Fact]
    public async Task UnknownKeyAndSecondDeleteAre404()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "once", "secret");

        await KeyAdminClient.AssertErrorAsync(
            await _admin.DeleteKeyAsync(project.Id, "dev", "key_doesnotexist", "once"), HttpStatusCode.NotFound, "KEY_NOT_FOUND");
        Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(project.Id, "dev", key.Key.Id, "once")).StatusCode);
        await KeyAdminClient.AssertErrorAsync(
            await _admin.DeleteKeyAsync(project.Id, "dev", key.Key.Id, "once"), HttpStatusCode.NotFound, "KEY_NOT_FOUND");
    }

    [Fact]
    public async Task ConcurrentCreatesWithOneNameHaveExactlyOneWinner()
    {
        var project = await _admin.CreateProjectAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            _admin.PostKeyAsync(project.Id, "dev", new { name = "race", type = "secret" })));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.OK), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        Assert.Single((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    [Fact]
    public async Task ConcurrentDeletesOfOneKeyHaveExactlyOneWinner()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "contested", "secret");

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            _admin.DeleteKeyAsync(project.Id, "dev", key.Key.Id, "contested")));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.OK), r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
        var deletions = (await _admin.ListAuditEventsAsync(project.Id)).Events.Count(e => e.Action == "key.deleted");
        Assert.Equal(1, deletions);
    }

    [Fact]
    public async Task RolledKeyKeepsWorkingThroughItsGracePeriod()
    {
        var project = await _admin.CreateProjectAsync();
        var old = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "rolling", type = "secret", scopes = new[] { "posts:read" } }));

        var rolled = await _admin.RollKeyAsync(project.Id, "dev", old.Key.Id, gracePeriodSeconds: 3600);

        Assert.NotEqual(old.Value, rolled.Value);
        Assert.Equal(("rolling", "secret"), (rolled.Key.Name, rolled.Key.Type));
        Assert.Equal(["posts:read"], rolled.Key.Scopes);
        Assert.Equal(old.Key.Id, rolled.Key.RolledFrom);
        Assert.InRange(rolled.PreviousKey.GraceUntil!.Value, DateTimeOffset.UtcNow.AddMinutes(59), DateTimeOffset.UtcNow.AddMinutes(61));
        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/v1/data/posts", old.Value))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/v1/data/posts", rolled.Value))).StatusCode);
        Assert.Equal([rolled.Key.Id, old.Key.Id], (await _admin.ListKeysAsync(project.Id, "dev")).Keys.Select(k => k.Id));
        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostRollAsync(project.Id, "dev", old.Key.Id, 0), HttpStatusCode.Conflict, "KEY_ALREADY_ROLLED");
    }

    [Fact]
    public async Task RollWithNoGraceRevokesTheOldKeyAtOnce()
    {
        var project = await _admin.CreateProjectAsync();
        var old = await _admin.CreateKeyAsync(project.Id, "dev", "rotate-now", "secret");
        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", old.Value))).StatusCode);

        var rolled = await _admin.RollKeyAsync(project.Id, "dev", old.Key.Id, gracePeriodSeconds: 0);

        // "At once" is as fast as the invalidation reaches the gateway's near cache: well within a second.
        var oldResponse = await gateway.FirstRejectionAsync("/demo/public/x", old.Value, within: TimeSpan.FromSeconds(1));

        Assert.Equal(HttpStatusCode.Unauthorized, oldResponse.StatusCode);
        Assert.Equal("TOKEN_REVOKED", (await oldResponse.ReadErrorAsync()).Error);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", rolled.Value))).StatusCode);
        Assert.Equal([rolled.Key.Id], (await _admin.ListKeysAsync(project.Id, "dev")).Keys.Select(k => k.Id));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2_592_001)]
    public async Task GracePeriodOutOfRangeIs400(int seconds)
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "k", "secret");

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostRollAsync(project.Id, "dev", key.Key.Id, seconds), HttpStatusCode.BadRequest, "INVALID_GRACE_PERIOD");
    }

    [Fact]
    public async Task AuditListsCreatedRolledAndDeletedNewestFirst()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "staging", "audited", "publishable");
        var rolled = await _admin.RollKeyAsync(project.Id, "staging", key.Key.Id, 0);
        await _admin.DeleteKeyAsync(project.Id, "staging", rolled.Key.Id, "audited");

        var events = (await _admin.ListAuditEventsAsync(project.Id)).Events;

        Assert.Equal(
            [("key.deleted", rolled.Key.Id), ("key.created", rolled.Key.Id), ("key.rolled", key.Key.Id), ("key.created", key.Key.Id), ("project.created", "")],
            events.Select(e => (e.Action, e.KeyId)));
        Assert.All(events.SkipLast(1), e => Assert.Equal(("audited", "staging"), (e.KeyName, e.Environment)));
        Assert.All(events, e => Assert.Equal(("admin-token", "admin-token", project.Id), (e.Actor, e.ActorId, e.ProjectId)));
    }

    [Fact]
    public async Task CallsWithoutTheAdminTokenAre401()
    {
        using var anonymous = fixture.App.CreateHttpClient("key-admin", "http");

        var response = await anonymous.GetAsync("/v1/projects");
        await KeyAdminClient.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await KeyAdminClient.AssertErrorAsync(
            await fixture.CreateKeyAdminClient("wrong-token-of-some-length").Http.GetAsync("/v1/projects"), HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task OpenApiDocumentDescribesTheRestApi()
    {
        using var anonymous = fixture.App.CreateHttpClient("key-admin", "http");

        var document = await anonymous.GetFromJsonAsync<System.Text.Json.JsonElement>("/openapi/v1.json");

        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/v1/projects", paths);
        Assert.Contains("/v1/projects/{projectId}/environments/{environment}/keys/{keyId}:roll", paths);
        Assert.Contains("/v1/projects/{projectId}/audit", paths);
    }

    [Fact]
    public async Task RollOfAnExpiringKeyKeepsItsExpiry()
    {
        var project = await _admin.CreateProjectAsync();
        var expires = DateTimeOffset.UtcNow.AddDays(7);
        var trial = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "trial", type = "secret", expiresAt = expires }));

        var rolled = await _admin.RollKeyAsync(project.Id, "dev", trial.Key.Id, gracePeriodSeconds: 0);

        Assert.NotNull(rolled.Key.ExpiresAt);
        Assert.Equal(expires.ToUnixTimeSeconds(), rolled.Key.ExpiresAt.Value.ToUnixTimeSeconds());
        var listed = (await _admin.ListKeysAsync(project.Id, "dev")).Keys.Single(k => k.Id == rolled.Key.Id);
        Assert.Equal(expires.ToUnixTimeSeconds(), listed.ExpiresAt!.Value.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task RollMayGiveTheNewKeyAnotherExpiry()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "renewed", "secret");
        var expires = DateTimeOffset.UtcNow.AddDays(30);

        var response = await _admin.Http.PostAsJsonAsync(
            $"/v1/projects/{project.Id}/environments/dev/keys/{key.Key.Id}:roll", new { gracePeriodSeconds = 0, expiresAt = expires });
        var rolled = await KeyAdminClient.ReadAsync<RolledKeyDto>(response);

        Assert.Equal(expires.ToUnixTimeSeconds(), rolled.Key.ExpiresAt!.Value.ToUnixTimeSeconds());
        await KeyAdminClient.AssertErrorAsync(
            await _admin.Http.PostAsJsonAsync(
                $"/v1/projects/{project.Id}/environments/dev/keys/{rolled.Key.Id}:roll",
                new { gracePeriodSeconds = 0, expiresAt = DateTimeOffset.UtcNow.AddDays(-1) }),
            HttpStatusCode.BadRequest, "INVALID_EXPIRY");
    }

    [Fact]
    public async Task RollOfAnExpiredKeyIs409KeyExpired()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "short-lived", type = "secret", expiresAt = DateTimeOffset.UtcNow.AddSeconds(2) }));
        await Clock.PastAsync(key.Key.ExpiresAt!.Value);

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostRollAsync(project.Id, "dev", key.Key.Id, 0), HttpStatusCode.Conflict, "KEY_EXPIRED");
        Assert.Equal([key.Key.Id], (await _admin.ListKeysAsync(project.Id, "dev")).Keys.Select(k => k.Id));
    }

    [Fact]
    public async Task RollOfADeletedKeyIs409KeyRevoked()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "gone", "secret");
        Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(project.Id, "dev", key.Key.Id, "gone")).StatusCode);

        await KeyAdminClient.AssertErrorAsync(
            await _admin.PostRollAsync(project.Id, "dev", key.Key.Id, 0), HttpStatusCode.Conflict, "KEY_REVOKED");
        Assert.Empty((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    [Fact]
    public async Task AKeyPastedWhereAnIdBelongsIsNeverEchoed()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "pasted", "secret");

        var errors = new[]
        {
            await KeyAdminClient.AssertErrorAsync(
                await _admin.Http.GetAsync($"/v1/projects/{key.Value}"), HttpStatusCode.NotFound, "PROJECT_NOT_FOUND"),
            await KeyAdminClient.AssertErrorAsync(
                await _admin.Http.GetAsync($"/v1/projects/{project.Id}/environments/{key.Value}/keys"), HttpStatusCode.NotFound, "ENVIRONMENT_NOT_FOUND"),
            await KeyAdminClient.AssertErrorAsync(
                await _admin.DeleteKeyAsync(project.Id, "dev", key.Value, "pasted"), HttpStatusCode.NotFound, "KEY_NOT_FOUND"),
            await KeyAdminClient.AssertErrorAsync(
                await _admin.PostRollAsync(project.Id, "dev", key.Value, 0), HttpStatusCode.NotFound, "KEY_NOT_FOUND"),
        };

        Assert.All(errors, e => Assert.DoesNotContain(key.Value[3..], e.Message, StringComparison.Ordinal));
        Assert.DoesNotContain(key.Value[3..], await fixture.ReadAllLogsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConcurrentWrongAdminTokensFromOneAddressAreThrottledAtTheLimit()
    {
        // KeyAdmin's own address, not the proxy in front of it: the proxy would make every client one address.
        var keyAdmin = (await fixture.GetReplicaAddressesAsync("key-admin", "http", replicas: 1))[0];
        using var attacker = LoopbackClients.ClientFrom(IPAddress.Parse("127.0.30.1"), keyAdmin);
        using var operatorClient = LoopbackClients.ClientFrom(IPAddress.Parse("127.0.30.2"), keyAdmin);

        var responses = await Task.WhenAll(Enumerable.Range(0, 3 * KeysAppFixture.FailedTokenLimit).Select(i =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/v1/projects");
            request.Headers.Authorization = new("Bearer", $"guess-{i:D4}-{new string('x', 32)}");
            return attacker.SendAsync(request);
        }));

        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.True(
            responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized) <= KeysAppFixture.FailedTokenLimit,
            string.Join(", ", responses.GroupBy(r => r.StatusCode).Select(g => $"{g.Key}: {g.Count()}")));
        Assert.Equal(responses.Length, refused.Count + responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized));
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.NotNull(r.Headers.RetryAfter));
        await KeyAdminClient.AssertErrorAsync(refused[0], HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");

        // Another address is not held back by the attacker's.
        var mine = new HttpRequestMessage(HttpMethod.Get, "/v1/projects");
        mine.Headers.Authorization = new("Bearer", fixture.AdminToken);
        Assert.Equal(HttpStatusCode.OK, (await operatorClient.SendAsync(mine)).StatusCode);
    }

    private static int Occurrences(string text, string fragment)
    {
        var count = 0;
        for (var at = text.IndexOf(fragment, StringComparison.Ordinal); at >= 0; at = text.IndexOf(fragment, at + fragment.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
