using System.Net;
using Keys.ApiKeys;
using Keys.AppHost.Commands;
using Keys.FunctionalTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

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

    private Task<ExecuteCommandResult> ExecuteAsync(string command, params (string Name, string Value)[] arguments)
    {
        var commands = fixture.App.Services.GetRequiredService<ResourceCommandService>();
        var inputs = new InteractionInputCollection(arguments
            .Select(a => new InteractionInput { Name = a.Name, InputType = InputType.Text, Value = a.Value })
            .ToList());
        return commands.ExecuteCommandAsync("key-admin", command, inputs, CancellationToken.None);
    }
}
