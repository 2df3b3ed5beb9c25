using System.Net;
using Keys.ApiKeys;
using Keys.AppHost.Commands;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Keys.FunctionalTests;

/// <summary>
/// The commands on the Aspire dashboard's menus, executed as the dashboard executes them (through the AppHost's
/// command service), and their effect checked where it matters: at the gateway and in the audit log.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class DashboardCommandTests(KeysAppFixture fixture)
{
    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();

    [Fact]
    public async Task CreateApiKeyShowsTheSecretOnceAndTheGatewayAcceptsIt()
    {
        var project = await _admin.CreateProjectAsync("Dashboard");

        var result = await ExecuteAsync(KeyAdminCommands.CreateApiKey,
            ("project", project.Id), ("environment", "dev"), ("type", "secret"), ("name", "from-dashboard"), ("scopes", ""), ("expires", "30"));

        Assert.True(result.Success, result.Message);
        var value = result.Data!.Value;
        Assert.True(KeyString.TryParse(value, out var type) && type == ApiKeyType.Secret);
        Assert.True(result.Data.DisplayImmediately);
        Assert.Contains(KeyString.Mask(value), result.Message);
        Assert.DoesNotContain(value, result.Message);
        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", value))).StatusCode);
        var key = Assert.Single((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
        Assert.Equal(("from-dashboard", "dashboard"), (key.Name, key.CreatedBy));
        Assert.InRange(key.ExpiresAt!.Value, DateTimeOffset.UtcNow.AddDays(29), DateTimeOffset.UtcNow.AddDays(31));
        Assert.DoesNotContain(value[3..], await fixture.ReadAllLogsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteApiKeyNeedsTheKeysNameAndThenTheGatewayRefusesTheKeyAtOnce()
    {
        var project = await _admin.CreateProjectAsync("Dashboard delete");
        var key = await _admin.CreateKeyAsync(project.Id, "prod", "doomed", "secret");
        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value))).StatusCode);

        var wrong = await ExecuteAsync(KeyAdminCommands.DeleteApiKey,
            ("project", project.Id), ("environment", "prod"), ("keyId", key.Key.Id), ("confirmName", "not-its-name"));
        Assert.False(wrong.Success);
        Assert.Equal("confirmName does not match the key's name; nothing was deleted. (CONFIRM_NAME_MISMATCH)", wrong.Message);
        Assert.Single((await _admin.ListKeysAsync(project.Id, "prod")).Keys);

        var deleted = await ExecuteAsync(KeyAdminCommands.DeleteApiKey,
            ("project", project.Id), ("environment", "prod"), ("keyId", key.Key.Id), ("confirmName", "doomed"));

        Assert.True(deleted.Success, deleted.Message);
        var refused = await gateway.FirstRejectionAsync("/demo/public/x", key.Value, within: TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        var audit = (await _admin.ListAuditEventsAsync(project.Id)).Events[0];
        Assert.Equal(("key.deleted", "dashboard", "dashboard"), (audit.Action, audit.Actor, audit.ActorId));
    }

    [Fact]
    public async Task RollApiKeyGivesANewKeyAndTheOldOneStopsWhenThereIsNoGrace()
    {
        var project = await _admin.CreateProjectAsync("Dashboard roll");
        var old = await _admin.CreateKeyAsync(project.Id, "dev", "rolled", "secret");

        var result = await ExecuteAsync(KeyAdminCommands.RollApiKey,
            ("project", project.Id), ("environment", "dev"), ("keyId", old.Key.Id), ("grace", "0"));

        Assert.True(result.Success, result.Message);
        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", result.Data!.Value))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.FirstRejectionAsync("/demo/public/x", old.Value, within: TimeSpan.FromSeconds(1))).StatusCode);
    }

    [Fact]
    public async Task CreateOperatorTokenIssuesATokenWithTheRoleChosen()
    {
        var name = $"from-dashboard-{Guid.NewGuid():N}";

        var result = await ExecuteAsync(KeyAdminCommands.CreateOperatorToken, ("name", name), ("role", "viewer"), ("projects", ""), ("expires", "never"));

        Assert.True(result.Success, result.Message);
        Assert.True(OperatorToken.IsWellFormed(result.Data!.Value));
        Assert.DoesNotContain(result.Data.Value, result.Message);
        var viewer = fixture.CreateKeyAdminClient(result.Data.Value);
        await viewer.ListProjectsAsync();
        await KeyAdminClient.AssertErrorAsync(await viewer.Http.PostAsJsonAsync("/v1/projects", new { name = "no" }), HttpStatusCode.Forbidden, "ROLE_REQUIRED");
    }

    [Fact]
    public async Task ACommandThatKeyAdminRefusesReportsItsMessageAndCode()
    {
        var result = await ExecuteAsync(KeyAdminCommands.CreateApiKey,
            ("project", ResourceId.NewProjectId()), ("environment", "dev"), ("type", "secret"), ("name", "orphan"), ("scopes", ""), ("expires", "never"));

        Assert.False(result.Success);
        Assert.EndsWith("(PROJECT_NOT_FOUND)", result.Message);
    }

    [Fact]
    public async Task FlushCachesOnKeyValidationMakesEveryCacheReloadARecordChangedBehindKeyAdminsBack()
    {
        var project = await _admin.CreateProjectAsync("Dashboard flush");
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "hand-edited", "secret");
        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value))).StatusCode);

        // A restore or a hand edit changes the record without an invalidation: caches keep answering from what they hold.
        await using (var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb")))
        {
            await connection.OpenAsync();
            await using var edit = new NpgsqlCommand("UPDATE api_key SET expires_at = now() - interval '1 minute' WHERE id = @id", connection);
            edit.Parameters.AddWithValue("id", key.Key.Id);
            Assert.Equal(1, await edit.ExecuteNonQueryAsync());
        }

        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value))).StatusCode);

        var result = await ExecuteOnResourceAsync("key-validation", KeyAdminCommands.FlushCaches);

        Assert.True(result.Success, result.Message);
        var refused = await gateway.FirstRejectionAsync("/demo/public/x", key.Value, within: TimeSpan.FromSeconds(3));
        Assert.Equal("TOKEN_EXPIRED", (await refused.ReadErrorAsync()).Error);
        using var admin = fixture.CreateKeyAdminClient().Http;
        var audit = await admin.GetFromJsonAsync<System.Text.Json.JsonElement>("/v1/audit?limit=20");
        Assert.Contains(audit.GetProperty("events").EnumerateArray(), e =>
            e.GetProperty("action").GetString() == "caches.flushed" && e.GetProperty("detail").GetString() == "key-validation"
            && e.GetProperty("actor").GetString() == "dashboard");
    }

    [Fact]
    public async Task FlushCachesOnTheGatewayTellsEveryWatchClientToFlushItsNearCache()
    {
        using var channel = fixture.KeyValidationChannel();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var watch = new KeyValidationService.KeyValidationServiceClient(channel).Watch(new WatchRequest(), cancellationToken: timeout.Token);
        Assert.True(await watch.ResponseStream.MoveNext(timeout.Token));
        Assert.Equal(WatchEvent.EventOneofCase.Heartbeat, watch.ResponseStream.Current.EventCase);

        var result = await ExecuteOnResourceAsync("gateway", KeyAdminCommands.FlushCaches);

        Assert.True(result.Success, result.Message);
        while (await watch.ResponseStream.MoveNext(timeout.Token) && watch.ResponseStream.Current.EventCase != WatchEvent.EventOneofCase.Flush)
        {
        }

        Assert.Equal(WatchEvent.EventOneofCase.Flush, watch.ResponseStream.Current.EventCase);
    }

    // On every replica of the resource, as the dashboard does from any of them.
    private Task<ExecuteCommandResult> ExecuteOnResourceAsync(string resourceName, string command)
    {
        var model = fixture.App.Services.GetRequiredService<DistributedApplicationModel>();
        var resource = model.Resources.Single(r => r.Name == resourceName);
        return fixture.App.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(resource, command, CancellationToken.None);
    }

    private Task<ExecuteCommandResult> ExecuteAsync(string command, params (string Name, string Value)[] arguments)
    {
        var commands = fixture.App.Services.GetRequiredService<ResourceCommandService>();
        var inputs = new InteractionInputCollection(arguments
            .Select(a => new InteractionInput { Name = a.Name, InputType = InputType.Text, Value = a.Value })
            .ToList());
        return commands.ExecuteCommandAsync("key-admin", command, inputs, CancellationToken.None);
    }
}
