using System.Net;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;
using Npgsql;
using NpgsqlTypes;

namespace Keys.FunctionalTests;

/// <summary>Listings a page at a time (keys, projects, audit events), and the filters and search of ListKeys.</summary>
[Collection(KeysCollection.Name)]
public sealed class KeyListingTests(KeysAppFixture fixture) : IDisposable
{
    private readonly KeyLifecycle _keys = new(fixture);

    private KeyAdminService.KeyAdminServiceClient Grpc => _keys.Grpc;

    [Fact]
    public async Task PagingThrough1200KeysWhileOthersAreCreatedSeesEveryKeyThatExistedOnceAndNoneTwice()
    {
        var project = await _keys.NewProjectAsync("Paged");
        // Written straight into the table: the test is about reading them. Three keys share each creation time, so
        // that pages also end inside a run of equal times.
        var existing = await InsertKeysAsync(project.Id, "dev", 1200, i => $"existing-{i}", i => DateTime.UtcNow.AddMinutes(-10).AddMilliseconds(-(i / 3)));

        using var stop = new CancellationTokenSource();
        var created = 0;
        var creator = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await _keys.NewKeyAsync(project.Id, "secret", $"meanwhile-{Guid.NewGuid():N}");
                Interlocked.Increment(ref created);
            }
        });

        var seen = new List<string>();
        var pages = 0;
        for (var token = ""; pages == 0 || token.Length > 0; pages++)
        {
            // Each page is read after at least one more key was created: every page boundary moves under the reader.
            var before = Volatile.Read(ref created);
            for (var deadline = DateTime.UtcNow.AddSeconds(10); Volatile.Read(ref created) == before && DateTime.UtcNow < deadline;)
            {
                await Task.Delay(5);
            }

            var page = await Grpc.ListKeysAsync(
                new ListKeysRequest { ProjectId = project.Id, Environment = "dev", PageSize = 100, PageToken = token }, _keys.Admin);
            seen.AddRange(page.Keys.Select(k => k.Id));
            token = page.NextPageToken;
        }

        await stop.CancelAsync();
        await creator;

        Assert.True(created >= pages, $"only {created} keys were created while {pages} pages were read");
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Empty(existing.Except(seen));
    }

    [Fact]
    public async Task PagesAreNewestFirstAndEndWithNoToken()
    {
        var project = await _keys.NewProjectAsync();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Insert(0, (await _keys.NewKeyAsync(project.Id, "secret", $"ordered-{i}")).Key.Id);
        }

        var first = await ListAsync(project.Id, pageSize: 2);
        var second = await ListAsync(project.Id, pageSize: 2, token: first.NextPageToken);
        var third = await ListAsync(project.Id, pageSize: 2, token: second.NextPageToken);
        var all = await ListAsync(project.Id);

        Assert.Equal(ids, first.Keys.Concat(second.Keys).Concat(third.Keys).Select(k => k.Id));
        Assert.Equal(("", ""), (third.NextPageToken, all.NextPageToken));
        Assert.Equal(ids, all.Keys.Select(k => k.Id));
    }

    [Fact]
    public async Task APageIsFiftyKeysUnlessAskedAndAtMost500()
    {
        var project = await _keys.NewProjectAsync();
        await InsertKeysAsync(project.Id, "dev", 501, i => $"many-{i}", i => DateTime.UtcNow.AddMinutes(-1).AddMilliseconds(-i));

        Assert.Equal(50, (await ListAsync(project.Id)).Keys.Count);
        Assert.Equal(500, (await ListAsync(project.Id, pageSize: 500)).Keys.Count);
        await KeyLifecycle.RefusedAsync(() => ListAsync(project.Id, pageSize: 501), StatusCode.InvalidArgument, "INVALID_PAGE_SIZE");
        await KeyLifecycle.RefusedAsync(() => ListAsync(project.Id, pageSize: -1), StatusCode.InvalidArgument, "INVALID_PAGE_SIZE");
    }

    [Fact]
    public async Task FiltersByTypeStatusAndNameOrMaskedValue()
    {
        var project = await _keys.NewProjectAsync();
        var web = await _keys.NewKeyAsync(project.Id, "publishable", "alpha-web");
        var server = await _keys.NewKeyAsync(project.Id, "secret", "Alpha-Server");
        var disabled = await _keys.NewKeyAsync(project.Id, "secret", "beta");
        await _keys.PatchKeyAsync(project.Id, "dev", disabled.Key.Id, """{"enabled":false}""");
        var expiring = await _keys.NewKeyAsync(project.Id, "secret", "gamma", r =>
            r.ExpiresAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddSeconds(2)));
        var rolled = await _keys.NewKeyAsync(project.Id, "secret", "delta");
        var replacement = await Grpc.RollKeyAsync(
            new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = rolled.Key.Id, GracePeriodSeconds = 3600 }, _keys.Admin);
        var underscore = await _keys.NewKeyAsync(project.Id, "secret", "ab_cd");
        var lookalike = await _keys.NewKeyAsync(project.Id, "secret", "abxcd");
        await Clock.PastAsync(expiring.Key.ExpiresAt.ToDateTimeOffset());

        Assert.Equal([web.Key.Id], await IdsAsync(type: "publishable"));
        Assert.Equal([disabled.Key.Id], await IdsAsync(status: "disabled"));
        Assert.Equal([expiring.Key.Id], await IdsAsync(status: "expired"));
        Assert.Equal([rolled.Key.Id], await IdsAsync(status: "rolling"));
        Assert.Equal([lookalike.Key.Id, underscore.Key.Id, replacement.Key.Id, server.Key.Id, web.Key.Id], await IdsAsync(status: "active"));
        Assert.Equal([server.Key.Id, web.Key.Id], await IdsAsync(q: "ALPHA"));
        Assert.Equal([server.Key.Id], await IdsAsync(type: "secret", status: "active", q: "alpha"));
        // The query's wildcards are searched for as typed: "_" is not "any character", "%" not "anything".
        Assert.Equal([underscore.Key.Id], await IdsAsync(q: "b_c"));
        Assert.Empty(await IdsAsync(q: "a%d"));
        // A key's masked value shows its last four characters, as a log or a support ticket would.
        Assert.Equal([server.Key.Id], await IdsAsync(q: server.Value[^4..]));
        Assert.Equal([server.Key.Id], await IdsAsync(q: server.Key.MaskedKey));

        // The filter holds across pages.
        var active = new List<string>();
        for (var token = ""; ;)
        {
            var page = await ListAsync(project.Id, pageSize: 1, token: token, status: "active");
            active.AddRange(page.Keys.Select(k => k.Id));
            if ((token = page.NextPageToken).Length == 0)
            {
                break;
            }
        }

        Assert.Equal(await IdsAsync(status: "active"), active);

        async Task<List<string>> IdsAsync(string type = "", string status = "", string q = "") =>
            (await ListAsync(project.Id, type: type, status: status, q: q)).Keys.Select(k => k.Id).ToList();
    }

    [Fact]
    public async Task ASearchFindsMatchesBeyondTheFirstThousandsOfKeysOnEveryPage()
    {
        // More keys than KeyAdmin reads in order before it turns to the search indexes, with matches spread through
        // them and the rarest at the very end.
        var project = await _keys.NewProjectAsync();
        var t0 = DateTime.UtcNow.AddMinutes(-5);
        var ids = await InsertKeysAsync(project.Id, "dev", 3000, i => i switch
        {
            2998 => "needle-in-the-haystack",
            2999 => "z-",
            _ => $"bulk-{i}",
        }, i => t0.AddMilliseconds(-i));

        Assert.Equal([ids[2998]], (await ListAsync(project.Id, q: "needle")).Keys.Select(k => k.Id));
        // Two characters, too few for the trigram indexes: read in order to the end.
        Assert.Equal([ids[2999]], (await ListAsync(project.Id, q: "z-")).Keys.Select(k => k.Id));
        Assert.Equal([ids[2998]], (await ListAsync(project.Id, q: "HAYSTACK", type: "secret", status: "active")).Keys.Select(k => k.Id));

        var expected = Enumerable.Range(0, 2998).Where(i => $"bulk-{i}".Contains("bulk-24", StringComparison.Ordinal)).Select(i => ids[i]).ToList();
        var found = new List<string>();
        for (var token = ""; ;)
        {
            var page = await ListAsync(project.Id, pageSize: 7, token: token, q: "bulk-24");
            found.AddRange(page.Keys.Select(k => k.Id));
            if ((token = page.NextPageToken).Length == 0)
            {
                break;
            }
        }

        Assert.Equal(expected, found);
    }

    [Fact]
    public async Task ATokenThatWasChangedIsMalformedOrIsSentWithOtherFiltersIsRefused()
    {
        var project = await _keys.NewProjectAsync();
        var other = await _keys.NewProjectAsync();
        for (var i = 0; i < 3; i++)
        {
            await _keys.NewKeyAsync(project.Id, "secret", $"token-{i}");
        }

        var token = (await ListAsync(project.Id, pageSize: 1, status: "active")).NextPageToken;
        var tampered = token[..10] + (token[10] == 'A' ? 'B' : 'A') + token[11..];
        var pasted = KeyString.Generate(ApiKeyType.Secret);

        foreach (var call in new Func<Task>[]
        {
            () => ListAsync(project.Id, pageSize: 1, token: tampered, status: "active"),
            () => ListAsync(project.Id, pageSize: 1, token: token[..^3], status: "active"),
            () => ListAsync(project.Id, pageSize: 1, token: "not a token", status: "active"),
            () => ListAsync(project.Id, pageSize: 1, token: token),
            () => ListAsync(project.Id, pageSize: 1, token: token, status: "active", q: "token"),
            () => ListAsync(project.Id, pageSize: 1, token: token, status: "active", type: "secret"),
            () => ListAsync(project.Id, pageSize: 1, token: token, status: "active", environment: "prod"),
            () => ListAsync(other.Id, pageSize: 1, token: token, status: "active"),
            () => Grpc.ListProjectsAsync(new ListProjectsRequest { PageToken = token }, _keys.Admin).ResponseAsync,
        })
        {
            await KeyLifecycle.RefusedAsync(call, StatusCode.InvalidArgument, "INVALID_PAGE_TOKEN");
        }

        var rest = await KeyAdminClient.AssertErrorAsync(
            await _keys.Rest.Http.GetAsync($"/v1/projects/{project.Id}/environments/dev/keys?pageToken={pasted}"), HttpStatusCode.BadRequest, "INVALID_PAGE_TOKEN");
        Assert.DoesNotContain(pasted, rest.Message, StringComparison.Ordinal);
        Assert.Single((await ListAsync(project.Id, pageSize: 1, token: token, status: "active")).Keys);
    }

    [Fact]
    public async Task FiltersOutsideTheirValuesAreRefusedWithTheirCodes()
    {
        var project = await _keys.NewProjectAsync();

        await KeyLifecycle.RefusedAsync(() => ListAsync(project.Id, type: "restricted"), StatusCode.InvalidArgument, "INVALID_KEY_TYPE");
        await KeyLifecycle.RefusedAsync(() => ListAsync(project.Id, status: "deleted"), StatusCode.InvalidArgument, "INVALID_STATUS_FILTER");
        await KeyLifecycle.RefusedAsync(() => ListAsync(project.Id, q: new string('q', 65)), StatusCode.InvalidArgument, "INVALID_QUERY");
        await KeyAdminClient.AssertErrorAsync(
            await _keys.Rest.Http.GetAsync($"/v1/projects/{project.Id}/environments/dev/keys?status=revoked"), HttpStatusCode.BadRequest, "INVALID_STATUS_FILTER");
        Assert.Empty((await ListAsync(project.Id, q: new string('q', 64))).Keys);
    }

    [Fact]
    public async Task AQueryHoldingAKeyOrTokenIsRefusedOverRestAndGrpcPointingToFindKeyWithoutEchoingIt()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id);

        foreach (var q in new[] { key.Value, $"x {key.Value}", OperatorToken.Generate() })
        {
            var grpc = await KeyLifecycle.RefusedAsync(() => ListAsync(project.Id, q: q), StatusCode.InvalidArgument, "INVALID_QUERY");
            var rest = await KeyAdminClient.AssertErrorAsync(
                await _keys.Rest.Http.GetAsync($"/v1/projects/{project.Id}/environments/dev/keys?q={Uri.EscapeDataString(q)}"), HttpStatusCode.BadRequest, "INVALID_QUERY");
            foreach (var message in new[] { grpc.Status.Detail, rest.Message })
            {
                Assert.Contains("FindKey (POST /v1/keys:find)", message, StringComparison.Ordinal);
                Assert.DoesNotContain(q.Trim()[^49..], message, StringComparison.Ordinal);
            }
        }

        // What a search is for still works: the masked value as listed.
        Assert.Equal([key.Key.Id], (await ListAsync(project.Id, q: key.Key.MaskedKey)).Keys.Select(k => k.Id));
    }

    [Fact]
    public async Task ProjectsArePagedNewestFirstAndALimitedTokenPagesThroughItsOwnOnly()
    {
        var projects = new List<Project>();
        for (var i = 0; i < 3; i++)
        {
            projects.Insert(0, await _keys.NewProjectAsync($"paged-{i}"));
        }

        var first = await Grpc.ListProjectsAsync(new ListProjectsRequest { PageSize = 2 }, _keys.Admin);
        var second = await Grpc.ListProjectsAsync(new ListProjectsRequest { PageSize = 2, PageToken = first.NextPageToken }, _keys.Admin);
        var viewer = await Grpc.CreateOperatorAsync(
            new CreateOperatorRequest { Name = $"pager-{Guid.NewGuid():N}", Role = "viewer", ProjectIds = { projects[0].Id, projects[2].Id } }, _keys.Admin);
        var limited = KeyLifecycle.Bearer(viewer.Token);
        var mine = await Grpc.ListProjectsAsync(new ListProjectsRequest { PageSize = 1 }, limited);
        var mineNext = await Grpc.ListProjectsAsync(new ListProjectsRequest { PageSize = 1, PageToken = mine.NextPageToken }, limited);

        Assert.Equal(projects.Select(p => p.Id), first.Projects.Concat(second.Projects).Take(3).Select(p => p.Id));
        Assert.Equal(["dev", "staging", "prod"], first.Projects[0].Environments.Select(e => e.Name));
        Assert.Equal([projects[0].Id, projects[2].Id], mine.Projects.Concat(mineNext.Projects).Select(p => p.Id));
        Assert.Equal("", mineNext.NextPageToken);
        await KeyLifecycle.RefusedAsync(
            () => Grpc.ListProjectsAsync(new ListProjectsRequest { PageSize = 501 }, _keys.Admin).ResponseAsync, StatusCode.InvalidArgument, "INVALID_PAGE_SIZE");
    }

    [Fact]
    public async Task AuditEventsArePagedNewestFirstAndTheOlderLimitStillWorks()
    {
        var project = await _keys.NewProjectAsync();
        for (var i = 0; i < 4; i++)
        {
            await _keys.NewKeyAsync(project.Id, "secret", $"audited-{i}");
        }

        var all = (await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id }, _keys.Admin)).Events.Select(e => e.Id).ToList();
        var paged = new List<long>();
        var pages = 0;
        for (var token = ""; ;)
        {
            pages++;
            var page = await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id, PageSize = 2, PageToken = token }, _keys.Admin);
            paged.AddRange(page.Events.Select(e => e.Id));
            if ((token = page.NextPageToken).Length == 0)
            {
                break;
            }
        }

        var limited = await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id, Limit = 2 }, _keys.Admin);
        var everyone = await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 1 }, _keys.Admin);

        Assert.Equal(5, all.Count);
        Assert.Equal(all, paged);
        Assert.Equal(3, pages);
        Assert.Equal(all.Take(2), limited.Events.Select(e => e.Id));
        Assert.NotEqual("", limited.NextPageToken);
        await KeyLifecycle.RefusedAsync(
            () => Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { PageToken = limited.NextPageToken }, _keys.Admin).ResponseAsync,
            StatusCode.InvalidArgument, "INVALID_PAGE_TOKEN");
        await KeyLifecycle.RefusedAsync(
            () => Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id, PageSize = 1001 }, _keys.Admin).ResponseAsync,
            StatusCode.InvalidArgument, "INVALID_PAGE_SIZE");
        Assert.Single(everyone.Events);
        Assert.Single((await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 1, PageToken = everyone.NextPageToken }, _keys.Admin)).Events);
    }

    public void Dispose() => _keys.Dispose();

    private async Task<ListKeysResponse> ListAsync(
        string projectId, int pageSize = 0, string token = "", string type = "", string status = "", string q = "", string environment = "dev") =>
        await Grpc.ListKeysAsync(
            new ListKeysRequest { ProjectId = projectId, Environment = environment, PageSize = pageSize, PageToken = token, Type = type, Status = status, Q = q },
            _keys.Admin);

    /// <summary>Secret keys written into the table in one statement; their IDs, in the order given.</summary>
    private async Task<List<string>> InsertKeysAsync(
        string projectId, string environment, int count, Func<int, string> name, Func<int, DateTime> createdAt)
    {
        var values = Enumerable.Range(0, count).Select(_ => KeyString.Generate(ApiKeyType.Secret)).ToArray();
        var ids = Enumerable.Range(0, count).Select(_ => ResourceId.NewKeyId()).ToList();
        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO api_key (id, project_id, environment, name, type, key_hash, masked_key, created_at, created_by)
            SELECT id, @project, @environment, name, 'secret', hash, masked, created_at, 'tests'
            FROM unnest(@ids, @names, @hashes, @masked, @createdAt) AS k(id, name, hash, masked, created_at)
            """, connection);
        command.Parameters.AddWithValue("project", projectId);
        command.Parameters.AddWithValue("environment", environment);
        command.Parameters.AddWithValue("ids", ids.ToArray());
        command.Parameters.AddWithValue("names", Enumerable.Range(0, count).Select(name).ToArray());
        command.Parameters.AddWithValue("hashes", values.Select(v => KeyHash.Of(v).ToArray()).ToArray());
        command.Parameters.AddWithValue("masked", values.Select(KeyString.Mask).ToArray());
        command.Parameters.AddWithValue("createdAt", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, Enumerable.Range(0, count).Select(createdAt).ToArray());
        await command.ExecuteNonQueryAsync();
        return ids;
    }
}
