using System.Net;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;

namespace Keys.FunctionalTests;

/// <summary>UpdateProject: a project's name, its default rate limit (which reaches every key without one of its own) and its lifetime policy for secret keys.</summary>
[Collection(KeysCollection.Name)]
public sealed class ProjectPolicyTests(KeysAppFixture fixture) : IDisposable
{
    private readonly KeyLifecycle _keys = new(fixture);

    private KeyAdminService.KeyAdminServiceClient Grpc => _keys.Grpc;

    [Fact]
    public async Task AProjectsDefaultRateLimitAndLifetimePolicyAreSetReturnedEverywhereAndCleared()
    {
        var project = await _keys.NewProjectAsync("Policies");

        var set = await KeyLifecycle.ReadAsync<Project>(await _keys.PatchProjectAsync(
            project.Id, """{"defaultRateLimit":{"limit":100,"windowSeconds":60},"maxSecretKeyLifetimeDays":90}"""));
        var renamed = await Grpc.UpdateProjectAsync(
            new UpdateProjectRequest { ProjectId = project.Id, Project = new ProjectUpdate { Name = "Policies 2" }, UpdateMask = new FieldMask { Paths = { "name" } } },
            _keys.Admin);
        var read = await Grpc.GetProjectAsync(new GetProjectRequest { ProjectId = project.Id }, _keys.Admin);
        var listed = (await Grpc.ListProjectsAsync(new ListProjectsRequest(), _keys.Admin)).Projects.Single(p => p.Id == project.Id);
        var cleared = await KeyLifecycle.ReadAsync<Project>(await _keys.PatchProjectAsync(
            project.Id, """{"defaultRateLimit":null,"maxSecretKeyLifetimeDays":0}"""));

        var limit = new RateLimit { Limit = 100, WindowSeconds = 60, Mode = "local" };
        Assert.Equal((limit, 90, "Policies"), (set.DefaultRateLimit, set.MaxSecretKeyLifetimeDays, set.Name));
        Assert.Equal((limit, 90, "Policies 2"), (renamed.DefaultRateLimit, renamed.MaxSecretKeyLifetimeDays, renamed.Name));
        Assert.Equal(renamed, read);
        Assert.Equal(renamed, listed);
        Assert.Null(cleared.DefaultRateLimit);
        Assert.Equal((0, "Policies 2"), (cleared.MaxSecretKeyLifetimeDays, cleared.Name));
        Assert.Equal(["dev", "staging", "prod"], cleared.Environments.Select(e => e.Name));
    }

    [Fact]
    public async Task AnUpdateOutsideTheRulesIsRefusedWithItsCodeAndChangesNothing()
    {
        var project = await _keys.NewProjectAsync("Unchanged");

        foreach (var (body, reason) in new[]
        {
            ("""{"maxSecretKeyLifetimeDays":3651}""", "INVALID_LIFETIME_POLICY"),
            ("""{"maxSecretKeyLifetimeDays":-1}""", "INVALID_LIFETIME_POLICY"),
            ("""{"defaultRateLimit":{"limit":10,"windowSeconds":86401}}""", "INVALID_RATE_LIMIT"),
            ("""{"defaultRateLimit":{"limit":10,"windowSeconds":60,"mode":"LOCAL"}}""", "INVALID_RATE_LIMIT"),
            ("""{"name":"   "}""", "INVALID_PROJECT_NAME"),
            // Listed, audited before and after, and echoed: a key beside a label leaks as much as a key alone.
            ($$"""{"name":"Shop {{Keys.ApiKeys.KeyString.Generate(Keys.ApiKeys.ApiKeyType.Secret)}}"}""", "INVALID_PROJECT_NAME"),
            // A field a project has but an update cannot set is unknown to the body, as in every REST body.
            ("""{"environments":[]}""", "MALFORMED_JSON"),
            ("{}", "NOTHING_TO_UPDATE"),
        })
        {
            await KeyAdminClient.AssertErrorAsync(await _keys.PatchProjectAsync(project.Id, body), HttpStatusCode.BadRequest, reason);
        }

        await KeyLifecycle.RefusedAsync(
            () => Grpc.UpdateProjectAsync(new UpdateProjectRequest { ProjectId = project.Id, Project = new ProjectUpdate { Name = "x" } }, _keys.Admin).ResponseAsync,
            StatusCode.InvalidArgument, "INVALID_UPDATE_MASK");
        await KeyAdminClient.AssertErrorAsync(
            await _keys.PatchProjectAsync(Keys.ApiKeys.ResourceId.NewProjectId(), """{"name":"ghost"}"""), HttpStatusCode.NotFound, "PROJECT_NOT_FOUND");
        Assert.Equal(project, await Grpc.GetProjectAsync(new GetProjectRequest { ProjectId = project.Id }, _keys.Admin));
    }

    [Fact]
    public async Task ANewDefaultRateLimitInvalidatesEveryUsableKeyWithoutALimitOfItsOwnAndNoOther()
    {
        var project = await _keys.NewProjectAsync("Defaults");
        var other = await _keys.NewProjectAsync("Elsewhere");
        var plain = await _keys.NewKeyAsync(project.Id, "secret");
        var browser = await _keys.NewKeyAsync(project.Id, "publishable", environment: "prod");
        var own = await _keys.NewKeyAsync(project.Id, "secret", configure: r => r.RateLimit = new RateLimit { Limit = 7, WindowSeconds = 1 });
        var deleted = await _keys.NewKeyAsync(project.Id);
        await Grpc.DeleteKeyAsync(new DeleteKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = deleted.Key.Id, ConfirmName = deleted.Key.Name }, _keys.Admin);
        var rolling = await _keys.NewKeyAsync(project.Id);
        var replacement = await Grpc.RollKeyAsync(
            new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = rolling.Key.Id, GracePeriodSeconds = 600 }, _keys.Admin);
        var elsewhere = await _keys.NewKeyAsync(other.Id);
        var head = await _keys.HeadSequenceAsync();

        await KeyLifecycle.ReadAsync<Project>(await _keys.PatchProjectAsync(project.Id, """{"defaultRateLimit":{"limit":20,"windowSeconds":10,"mode":"global"}}"""));
        var changes = await _keys.ChangesSinceAsync(head);

        string[] expected = [plain.Value, browser.Value, rolling.Value, replacement.Value];
        Assert.Equal(expected.Length, changes.Count);
        Assert.All(expected, value => Assert.Single(changes, c => KeyLifecycle.Concerns(c, value)));
        Assert.Equal(Enumerable.Range(1, changes.Count).Select(i => head + i), changes.Select(c => c.Sequence));
        Assert.DoesNotContain(changes, c => KeyLifecycle.Concerns(c, own.Value) || KeyLifecycle.Concerns(c, deleted.Value) || KeyLifecycle.Concerns(c, elsewhere.Value));

        // What validation now reads: the project's default, unless the key has its own.
        var global = new RateLimitRule { Limit = 20, WindowSeconds = 10, Mode = RateLimitMode.Global };
        Assert.Equal(global, (await _keys.LookupAsync(plain.Value))!.RateLimit);
        Assert.Equal(global, (await _keys.LookupAsync(browser.Value))!.RateLimit);
        Assert.Equal(new RateLimitRule { Limit = 7, WindowSeconds = 1, Mode = RateLimitMode.Local }, (await _keys.LookupAsync(own.Value))!.RateLimit);
        Assert.Null((await _keys.LookupAsync(elsewhere.Value))!.RateLimit);
        // The key itself still has no limit of its own.
        Assert.Null((await _keys.KeyAsync(project.Id, plain.Key.Id)).RateLimit);
    }

    [Fact]
    public async Task AnUpdateThatLeavesTheDefaultAsItWasInvalidatesNothing()
    {
        var project = await _keys.NewProjectAsync("Quiet");
        var key = await _keys.NewKeyAsync(project.Id);
        await _keys.PatchProjectAsync(project.Id, """{"defaultRateLimit":{"limit":20,"windowSeconds":10}}""");
        var head = await _keys.HeadSequenceAsync();

        await KeyLifecycle.ReadAsync<Project>(await _keys.PatchProjectAsync(
            project.Id, """{"name":"Quieter","maxSecretKeyLifetimeDays":30,"defaultRateLimit":{"limit":20,"windowSeconds":10,"mode":"local"}}"""));

        Assert.DoesNotContain(await _keys.ChangesSinceAsync(head), c => KeyLifecycle.Concerns(c, key.Value));
    }

    [Fact]
    public async Task AProjectUpdateIsAuditedWithWhatChangedBeforeAndAfter()
    {
        var project = await _keys.NewProjectAsync("Audited");

        await _keys.PatchProjectAsync(project.Id, """{"name":"Audited","defaultRateLimit":{"limit":5,"windowSeconds":1},"maxSecretKeyLifetimeDays":7}""");

        var update = (await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id }, _keys.Admin)).Events[0];
        Assert.Equal(("project.updated", project.Id, "admin-token"), (update.Action, update.ProjectId, update.ActorId));
        Assert.Equal(
            """{"before":{"defaultRateLimit":null,"maxSecretKeyLifetimeDays":null},"after":{"defaultRateLimit":{"limit":5,"windowSeconds":1,"mode":"local"},"maxSecretKeyLifetimeDays":7}}""",
            update.Detail);
    }

    [Fact]
    public async Task UnderALifetimePolicyASecretKeyIsCreatedOnlyWithAnExpiryWithinItAndPublishableKeysAreExempt()
    {
        var project = await _keys.NewProjectAsync("Short-lived");
        await _keys.PatchProjectAsync(project.Id, """{"maxSecretKeyLifetimeDays":30}""");

        var none = await KeyAdminClient.AssertErrorAsync(
            await _keys.Rest.PostKeyAsync(project.Id, "dev", new { name = "forever", type = "secret" }), HttpStatusCode.BadRequest, "EXPIRY_REQUIRED");
        var tooLong = await KeyAdminClient.AssertErrorAsync(
            await _keys.Rest.PostKeyAsync(project.Id, "dev", new { name = "long", type = "secret", expiresAt = DateTimeOffset.UtcNow.AddDays(31) }),
            HttpStatusCode.BadRequest, "EXPIRY_TOO_LONG");
        await KeyLifecycle.RefusedAsync(
            () => _keys.NewKeyAsync(project.Id, "secret", configure: r => r.ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(30).AddMinutes(1))),
            StatusCode.InvalidArgument, "EXPIRY_TOO_LONG");
        var within = await _keys.NewKeyAsync(project.Id, "secret", configure: r => r.ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(29)));
        var browser = await _keys.NewKeyAsync(project.Id, "publishable");
        var longBrowser = await _keys.NewKeyAsync(project.Id, "publishable", configure: r => r.ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddYears(5)));

        Assert.Contains("within 30 days", none.Message, StringComparison.Ordinal);
        Assert.Contains("within 30 days", tooLong.Message, StringComparison.Ordinal);
        Assert.Equal("active", within.Key.Status);
        Assert.Null(browser.Key.ExpiresAt);
        Assert.NotNull(longBrowser.Key.ExpiresAt);
        Assert.DoesNotContain((await Grpc.ListKeysAsync(new ListKeysRequest { ProjectId = project.Id, Environment = "dev" }, _keys.Admin)).Keys, k => k.Name is "forever" or "long");
    }

    [Fact]
    public async Task APolicyLeavesExistingKeysAsTheyAreAndAppliesWhenTheyAreRolledOrTheirExpiryIsChanged()
    {
        var project = await _keys.NewProjectAsync("Tightened");
        var legacy = await _keys.NewKeyAsync(project.Id, "secret", "legacy");
        var legacyBrowser = await _keys.NewKeyAsync(project.Id, "publishable", "legacy-browser");
        await _keys.PatchProjectAsync(project.Id, """{"maxSecretKeyLifetimeDays":14}""");

        // Untouched: listed and validated as before, and everything but its expiry may still change.
        Assert.Equal(legacy.Key, await _keys.KeyAsync(project.Id, legacy.Key.Id));
        Assert.Null((await _keys.LookupAsync(legacy.Value))!.ExpiresAt);
        await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(project.Id, "dev", legacy.Key.Id, """{"name":"legacy-2","scopes":["posts:read"]}"""));
        await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(project.Id, "dev", legacyBrowser.Key.Id, """{"expiresAt":null}"""));

        await KeyAdminClient.AssertErrorAsync(
            await _keys.PatchKeyAsync(project.Id, "dev", legacy.Key.Id, """{"expiresAt":null}"""), HttpStatusCode.BadRequest, "EXPIRY_REQUIRED");
        await KeyAdminClient.AssertErrorAsync(
            await _keys.PatchKeyAsync(project.Id, "dev", legacy.Key.Id, $$"""{"expiresAt":"{{DateTime.UtcNow.AddDays(15):O}}"}"""), HttpStatusCode.BadRequest, "EXPIRY_TOO_LONG");
        await KeyLifecycle.RefusedAsync(
            () => Grpc.RollKeyAsync(new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = legacy.Key.Id }, _keys.Admin).ResponseAsync,
            StatusCode.InvalidArgument, "EXPIRY_REQUIRED");
        await KeyLifecycle.RefusedAsync(
            () => Grpc.RollKeyAsync(
                new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = legacy.Key.Id, ExpiresAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(20)) },
                _keys.Admin).ResponseAsync,
            StatusCode.InvalidArgument, "EXPIRY_TOO_LONG");
        Assert.Null((await _keys.KeyAsync(project.Id, legacy.Key.Id)).RevokesAt);

        var shortened = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(
            project.Id, "dev", legacy.Key.Id, $$"""{"expiresAt":"{{DateTime.UtcNow.AddDays(10):O}}"}"""));
        var rolled = await Grpc.RollKeyAsync(new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = legacy.Key.Id }, _keys.Admin);
        var browserRolled = await Grpc.RollKeyAsync(new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = legacyBrowser.Key.Id }, _keys.Admin);

        Assert.Equal(shortened.ExpiresAt, rolled.Key.ExpiresAt);
        Assert.Null(browserRolled.Key.ExpiresAt);
    }

    public void Dispose() => _keys.Dispose();
}
