using System.Net;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;

namespace Keys.FunctionalTests;

/// <summary>Operators: their tokens, their roles on every RPC, their projects, the audit log's names for them.</summary>
[Collection(KeysCollection.Name)]
public sealed class OperatorTests(KeysAppFixture fixture) : IDisposable
{
    // Written out here, not read from KeyAdmin's rules, so that a rule changed by mistake fails this test.
    private static readonly Dictionary<string, string> LeastRole = new()
    {
        ["ListProjects"] = "viewer",
        ["GetProject"] = "viewer",
        ["ListKeys"] = "viewer",
        ["ListAuditEvents"] = "viewer",
        ["GetCurrentOperator"] = "viewer",
        ["CreateProject"] = "editor",
        ["CreateEnvironment"] = "editor",
        ["CreateKey"] = "editor",
        ["DeleteKey"] = "editor",
        ["RollKey"] = "editor",
        ["UpdateKey"] = "editor",
        ["UpdateProject"] = "editor",
        ["FindKey"] = "viewer",
        ["FlushCaches"] = "editor",
        ["ListOperators"] = "owner",
        ["CreateOperator"] = "owner",
        ["RevokeOperator"] = "owner",
    };

    private static readonly string[] Roles = ["viewer", "editor", "owner"];

    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint("key-admin", "grpc"));

    private KeyAdminService.KeyAdminServiceClient Client => new(_channel);

    private Metadata Admin => fixture.AdminCallHeaders();

    [Fact]
    public void TheRoleTableCoversEveryManagementRpc() =>
        Assert.Equal(KeyAdminService.Descriptor.Methods.Select(m => m.Name).Order(), LeastRole.Keys.Order());

    [Fact]
    public async Task EachRoleMayMakeExactlyTheCallsItsRoleAllowsOnEveryRpc()
    {
        var failures = new List<string>();
        foreach (var role in Roles)
        {
            var token = (await CreateOperatorAsync(role)).Token;
            foreach (var (method, leastRole) in LeastRole)
            {
                var allowed = Array.IndexOf(Roles, role) >= Array.IndexOf(Roles, leastRole);
                var project = await Client.CreateProjectAsync(new CreateProjectRequest { Name = "Roles" }, Admin);
                var error = await CallAsync(method, project.Id, Bearer(token));
                if (allowed && error is not null)
                {
                    failures.Add($"{role} {method}: refused with {error.StatusCode} {error.Status.Detail}");
                }
                else if (!allowed && (error?.StatusCode != StatusCode.PermissionDenied || Reason(error) != "ROLE_REQUIRED"
                             || !error.Status.Detail.Contains($"needs the {leastRole} role", StringComparison.Ordinal)))
                {
                    failures.Add($"{role} {method}: expected PERMISSION_DENIED naming {leastRole}, got {error?.StatusCode.ToString() ?? "OK"}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task ARefusedCallChangesNothing()
    {
        var viewer = Bearer((await CreateOperatorAsync("viewer")).Token);
        var project = await Client.CreateProjectAsync(new CreateProjectRequest { Name = "Untouched" }, Admin);
        var key = await Client.CreateKeyAsync(new CreateKeyRequest { ProjectId = project.Id, Environment = "dev", Name = "kept", Type = "secret" }, Admin);

        await AssertDeniedAsync(() => Client.DeleteKeyAsync(
            new DeleteKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = key.Key.Id, ConfirmName = "kept" }, viewer).ResponseAsync);
        await AssertDeniedAsync(() => Client.CreateKeyAsync(
            new CreateKeyRequest { ProjectId = project.Id, Environment = "dev", Name = "extra", Type = "secret" }, viewer).ResponseAsync);

        var keys = await Client.ListKeysAsync(new ListKeysRequest { ProjectId = project.Id, Environment = "dev" }, viewer);
        Assert.Equal([key.Key.Id], keys.Keys.Select(k => k.Id));
        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value))).StatusCode);
    }

    [Fact]
    public async Task AViewerIsRefusedOverRestWith403NamingTheRoleNeeded()
    {
        var created = await CreateOperatorAsync("viewer");
        var viewer = fixture.CreateKeyAdminClient(created.Token);
        var project = await Client.CreateProjectAsync(new CreateProjectRequest { Name = "REST" }, Admin);

        var error = await KeyAdminClient.AssertErrorAsync(
            await viewer.PostKeyAsync(project.Id, "dev", new { name = "nope", type = "secret" }), HttpStatusCode.Forbidden, "ROLE_REQUIRED");

        Assert.Equal(7, error.Code);
        Assert.Contains("Creating a key needs the editor role", error.Message);
        // Refusals are logged for whoever reviews access: who, what, why; never the token.
        var logged = $"Refused /keys.v1.KeyAdminService/CreateKey to operator {created.Operator.Id}: ROLE_REQUIRED";
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(await fixture.ReadAllLogsAsync()).Contains(logged, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Contains(logged, await fixture.ReadAllLogsAsync(), StringComparison.Ordinal);
        Assert.Equal(project.Id, Assert.Single((await viewer.ListProjectsAsync()).Projects, p => p.Id == project.Id).Id);
    }

    [Fact]
    public async Task ATokenLimitedToProjectsSeesAndChangesOnlyThem()
    {
        var mine = await Client.CreateProjectAsync(new CreateProjectRequest { Name = "Mine" }, Admin);
        var theirs = await Client.CreateProjectAsync(new CreateProjectRequest { Name = "Theirs" }, Admin);
        var limited = Bearer((await CreateOperatorAsync("editor", projectIds: [mine.Id])).Token);

        var created = await Client.CreateKeyAsync(new CreateKeyRequest { ProjectId = mine.Id, Environment = "dev", Name = "ok", Type = "secret" }, limited);
        Assert.StartsWith("sk_", created.Value);
        Assert.Equal([mine.Id], (await Client.ListProjectsAsync(new ListProjectsRequest(), limited)).Projects.Select(p => p.Id));

        foreach (var call in new Func<Task>[]
        {
            () => Client.CreateKeyAsync(new CreateKeyRequest { ProjectId = theirs.Id, Environment = "dev", Name = "no", Type = "secret" }, limited).ResponseAsync,
            () => Client.GetProjectAsync(new GetProjectRequest { ProjectId = theirs.Id }, limited).ResponseAsync,
            () => Client.ListKeysAsync(new ListKeysRequest { ProjectId = theirs.Id, Environment = "dev" }, limited).ResponseAsync,
            () => Client.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = theirs.Id }, limited).ResponseAsync,
            () => Client.UpdateProjectAsync(
                new UpdateProjectRequest { ProjectId = theirs.Id, Project = new ProjectUpdate { Name = "Mine now" }, UpdateMask = new FieldMask { Paths = { "name" } } },
                limited).ResponseAsync,
            () => Client.UpdateKeyAsync(
                new UpdateKeyRequest { ProjectId = theirs.Id, Environment = "dev", KeyId = ResourceId.NewKeyId(), Key = new KeyUpdate(), UpdateMask = new FieldMask { Paths = { "enabled" } } },
                limited).ResponseAsync,
            // Every project's events, or a new project (which would not be on its list): neither is for a limited token.
            () => Client.ListAuditEventsAsync(new ListAuditEventsRequest(), limited).ResponseAsync,
            () => Client.CreateProjectAsync(new CreateProjectRequest { Name = "New" }, limited).ResponseAsync,
            // A project that does not exist is refused as not allowed, not reported missing: no probing for IDs.
            () => Client.GetProjectAsync(new GetProjectRequest { ProjectId = ResourceId.NewProjectId() }, limited).ResponseAsync,
        })
        {
            var error = await Assert.ThrowsAsync<RpcException>(call);
            Assert.Equal((StatusCode.PermissionDenied, "PROJECT_NOT_ALLOWED"), (error.StatusCode, Reason(error)));
        }

        Assert.Empty((await Client.ListKeysAsync(new ListKeysRequest { ProjectId = theirs.Id, Environment = "dev" }, Admin)).Keys);
    }

    [Fact]
    public async Task AnOwnersTokenCannotBeLimitedToProjects()
    {
        var project = await Client.CreateProjectAsync(new CreateProjectRequest { Name = "Owned" }, Admin);

        var error = await Assert.ThrowsAsync<RpcException>(() => CreateOperatorAsync("owner", projectIds: [project.Id]));

        Assert.Equal((StatusCode.InvalidArgument, "INVALID_PROJECT_LIMIT"), (error.StatusCode, Reason(error)));
    }

    [Fact]
    public async Task AnOperatorLimitedToAProjectThatDoesNotExistIsNotCreated()
    {
        var missing = ResourceId.NewProjectId();
        var name = $"ghost-{Guid.NewGuid():N}";

        var error = await Assert.ThrowsAsync<RpcException>(() => CreateOperatorAsync("viewer", name, projectIds: [missing]));

        Assert.Equal((StatusCode.NotFound, "PROJECT_NOT_FOUND"), (error.StatusCode, Reason(error)));
        Assert.DoesNotContain((await Client.ListOperatorsAsync(new ListOperatorsRequest(), Admin)).Operators, o => o.Name == name);
    }

    [Fact]
    public async Task AnOperatorNameHoldingATokenOrKeyBesideALabelIsRefusedAndNotEchoed()
    {
        foreach (var secret in new[] { OperatorToken.Generate(), KeyString.Generate(ApiKeyType.Secret) })
        {
            var name = $"ci {secret}";

            var error = await Assert.ThrowsAsync<RpcException>(() => CreateOperatorAsync("viewer", name));

            Assert.Equal((StatusCode.InvalidArgument, "INVALID_OPERATOR_NAME"), (error.StatusCode, Reason(error)));
            Assert.DoesNotContain(secret[3..], error.Status.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain((await Client.ListOperatorsAsync(new ListOperatorsRequest(), Admin)).Operators, o => o.Name == name);
        }
    }

    [Fact]
    public async Task TwoLiveOperatorsCannotShareANameButARevokedOnesNameIsFreeAgain()
    {
        var name = $"twin-{Guid.NewGuid():N}";
        var first = await CreateOperatorAsync("viewer", name);

        var error = await Assert.ThrowsAsync<RpcException>(() => CreateOperatorAsync("viewer", name));
        Assert.Equal((StatusCode.AlreadyExists, "OPERATOR_NAME_TAKEN"), (error.StatusCode, Reason(error)));

        await Client.RevokeOperatorAsync(new RevokeOperatorRequest { OperatorId = first.Operator.Id }, Admin);
        Assert.Equal(name, (await CreateOperatorAsync("viewer", name)).Operator.Name);
    }

    [Fact]
    public async Task ARevokedOperatorTokenIsRefusedOnTheVeryNextCall()
    {
        var created = await CreateOperatorAsync("editor");
        var editor = Bearer(created.Token);
        Assert.Equal(created.Operator.Id, (await Client.GetCurrentOperatorAsync(new GetCurrentOperatorRequest(), editor)).Id);

        var revoked = await Client.RevokeOperatorAsync(new RevokeOperatorRequest { OperatorId = created.Operator.Id }, Admin);

        Assert.NotNull(revoked.RevokedAt);
        Assert.Equal("admin-token", revoked.RevokedBy);
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.ListProjectsAsync(new ListProjectsRequest(), editor).ResponseAsync);
        Assert.Equal((StatusCode.Unauthenticated, "TOKEN_REVOKED"), (error.StatusCode, Reason(error)));
        var again = await Assert.ThrowsAsync<RpcException>(() => Client.RevokeOperatorAsync(new RevokeOperatorRequest { OperatorId = created.Operator.Id }, Admin).ResponseAsync);
        Assert.Equal((StatusCode.Aborted, "OPERATOR_REVOKED"), (again.StatusCode, Reason(again)));
    }

    [Fact]
    public async Task AnExpiredOperatorTokenIsRefused()
    {
        var created = await CreateOperatorAsync("viewer", expiresAt: DateTime.UtcNow.AddSeconds(2));
        var viewer = Bearer(created.Token);
        await Client.ListProjectsAsync(new ListProjectsRequest(), viewer);

        await Clock.PastAsync(created.Operator.ExpiresAt.ToDateTimeOffset());

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.ListProjectsAsync(new ListProjectsRequest(), viewer).ResponseAsync);
        Assert.Equal((StatusCode.Unauthenticated, "TOKEN_EXPIRED"), (error.StatusCode, Reason(error)));
    }

    [Fact]
    public async Task AWellFormedTokenThatWasNeverIssuedIsUnauthenticated()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.ListProjectsAsync(new ListProjectsRequest(), Bearer(OperatorToken.Generate())).ResponseAsync);

        Assert.Equal((StatusCode.Unauthenticated, "UNAUTHORIZED"), (error.StatusCode, Reason(error)));
    }

    [Fact]
    public async Task TheTokenIsShownOnceAndOnlyItsMaskIsListedOrLogged()
    {
        var created = await CreateOperatorAsync("viewer");

        Assert.True(OperatorToken.IsWellFormed(created.Token));
        Assert.Equal(OperatorToken.Mask(created.Token), created.Operator.MaskedToken);
        var listed = (await Client.ListOperatorsAsync(new ListOperatorsRequest(), Admin)).Operators.Single(o => o.Id == created.Operator.Id);
        Assert.Equal(created.Operator.MaskedToken, listed.MaskedToken);
        Assert.DoesNotContain(created.Token[3..], listed.ToString(), StringComparison.Ordinal);
        await Client.ListProjectsAsync(new ListProjectsRequest(), Bearer(created.Token));
        Assert.DoesNotContain(created.Token[3..], await fixture.ReadAllLogsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnOperatorTokenIsNotAnApiKeyAtTheGateway()
    {
        var created = await CreateOperatorAsync("owner");
        using var gateway = fixture.CreateGatewayClient();

        var response = await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", created.Token));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("INVALID_TOKEN", (await response.ReadErrorAsync()).Error);
    }

    [Fact]
    public async Task EveryAuditRowNamesTheOperatorWhoActed()
    {
        var owner = await CreateOperatorAsync("owner");
        var editor = await CreateOperatorAsync("editor");
        var asEditor = Bearer(editor.Token);

        var project = await Client.CreateProjectAsync(new CreateProjectRequest { Name = "Audited" }, asEditor);
        await Client.CreateEnvironmentAsync(new CreateEnvironmentRequest { ProjectId = project.Id, Name = "qa" }, asEditor);
        var key = await Client.CreateKeyAsync(new CreateKeyRequest { ProjectId = project.Id, Environment = "qa", Name = "k", Type = "secret" }, asEditor);
        var rolled = await Client.RollKeyAsync(new RollKeyRequest { ProjectId = project.Id, Environment = "qa", KeyId = key.Key.Id }, Bearer(owner.Token));
        await Client.DeleteKeyAsync(new DeleteKeyRequest { ProjectId = project.Id, Environment = "qa", KeyId = rolled.Key.Id, ConfirmName = "k" }, Admin);
        var revoked = await CreateOperatorAsync("viewer");
        await Client.RevokeOperatorAsync(new RevokeOperatorRequest { OperatorId = revoked.Operator.Id }, Bearer(owner.Token));

        var events = (await Client.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id }, Admin)).Events;
        Assert.Equal(
            [
                ("key.deleted", "admin-token", "admin-token"),
                ("key.created", owner.Operator.Id, owner.Operator.Name),
                ("key.rolled", owner.Operator.Id, owner.Operator.Name),
                ("key.created", editor.Operator.Id, editor.Operator.Name),
                ("environment.created", editor.Operator.Id, editor.Operator.Name),
                ("project.created", editor.Operator.Id, editor.Operator.Name),
            ],
            events.Select(e => (e.Action, e.ActorId, e.Actor)));
        Assert.All(events, e => Assert.Equal(project.Id, e.ProjectId));
        Assert.Equal(editor.Operator.Name, key.Key.CreatedBy);

        var all = (await Client.ListAuditEventsAsync(new ListAuditEventsRequest { Limit = 1000 }, Admin)).Events;
        var revocation = Assert.Single(all, e => e.Action == "operator.revoked" && e.OperatorId == revoked.Operator.Id);
        Assert.Equal((owner.Operator.Id, owner.Operator.Name, revoked.Operator.Name, ""), (revocation.ActorId, revocation.Actor, revocation.OperatorName, revocation.ProjectId));
        Assert.Single(all, e => e.Action == "operator.created" && e.OperatorId == revoked.Operator.Id && e.ActorId == "admin-token");
    }

    [Fact]
    public async Task TheCurrentOperatorSaysWhoIsSignedInAndWhatTheyMayDo()
    {
        var project = await Client.CreateProjectAsync(new CreateProjectRequest { Name = "Who" }, Admin);
        var created = await CreateOperatorAsync("viewer", projectIds: [project.Id]);
        var viewer = fixture.CreateKeyAdminClient(created.Token);

        var me = await KeyAdminClient.ReadAsync<System.Text.Json.JsonElement>(await viewer.Http.GetAsync("/v1/operators/current"));
        var admin = await Client.GetCurrentOperatorAsync(new GetCurrentOperatorRequest(), Admin);

        Assert.Equal(created.Operator.Id, me.GetProperty("id").GetString());
        Assert.Equal("viewer", me.GetProperty("role").GetString());
        Assert.Equal([project.Id], me.GetProperty("projectIds").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(("admin-token", "owner"), (admin.Name, admin.Role));
    }

    private async Task<CreateOperatorResponse> CreateOperatorAsync(
        string role, string? name = null, string[]? projectIds = null, DateTime? expiresAt = null)
    {
        var request = new CreateOperatorRequest { Name = name ?? $"{role}-{Guid.NewGuid():N}", Role = role, ProjectIds = { projectIds ?? [] } };
        if (expiresAt is { } expires)
        {
            request.ExpiresAt = Timestamp.FromDateTime(expires);
        }

        return await Client.CreateOperatorAsync(request, Admin);
    }

    /// <summary>Makes one call of <paramref name="method"/> that would succeed for a caller allowed to make it; its error, or null.</summary>
    private async Task<RpcException?> CallAsync(string method, string projectId, Metadata auth)
    {
        var client = Client;
        try
        {
            switch (method)
            {
                case "ListProjects": await client.ListProjectsAsync(new ListProjectsRequest(), auth); break;
                case "GetProject": await client.GetProjectAsync(new GetProjectRequest { ProjectId = projectId }, auth); break;
                case "ListKeys": await client.ListKeysAsync(new ListKeysRequest { ProjectId = projectId, Environment = "dev" }, auth); break;
                case "ListAuditEvents": await client.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = projectId }, auth); break;
                case "GetCurrentOperator": await client.GetCurrentOperatorAsync(new GetCurrentOperatorRequest(), auth); break;
                case "CreateProject": await client.CreateProjectAsync(new CreateProjectRequest { Name = "By role" }, auth); break;
                case "CreateEnvironment": await client.CreateEnvironmentAsync(new CreateEnvironmentRequest { ProjectId = projectId, Name = "qa" }, auth); break;
                case "CreateKey": await client.CreateKeyAsync(NewKey(projectId), auth); break;
                case "DeleteKey":
                    var doomed = await client.CreateKeyAsync(NewKey(projectId), Admin);
                    await client.DeleteKeyAsync(new DeleteKeyRequest { ProjectId = projectId, Environment = "dev", KeyId = doomed.Key.Id, ConfirmName = doomed.Key.Name }, auth);
                    break;
                case "RollKey":
                    var old = await client.CreateKeyAsync(NewKey(projectId), Admin);
                    await client.RollKeyAsync(new RollKeyRequest { ProjectId = projectId, Environment = "dev", KeyId = old.Key.Id }, auth);
                    break;
                case "UpdateKey":
                    var updated = await client.CreateKeyAsync(NewKey(projectId), Admin);
                    await client.UpdateKeyAsync(
                        new UpdateKeyRequest
                        {
                            ProjectId = projectId,
                            Environment = "dev",
                            KeyId = updated.Key.Id,
                            Key = new KeyUpdate { Enabled = false },
                            UpdateMask = new FieldMask { Paths = { "enabled" } },
                        },
                        auth);
                    break;
                case "UpdateProject":
                    await client.UpdateProjectAsync(
                        new UpdateProjectRequest { ProjectId = projectId, Project = new ProjectUpdate { Name = "Renamed" }, UpdateMask = new FieldMask { Paths = { "name" } } },
                        auth);
                    break;
                case "FindKey":
                    var found = await client.CreateKeyAsync(NewKey(projectId), Admin);
                    await client.FindKeyAsync(new FindKeyRequest { Key = found.Value }, auth);
                    break;
                case "FlushCaches": await client.FlushCachesAsync(new FlushCachesRequest { Target = "gateways" }, auth); break;
                case "ListOperators": await client.ListOperatorsAsync(new ListOperatorsRequest(), auth); break;
                case "CreateOperator":
                    await client.CreateOperatorAsync(new CreateOperatorRequest { Name = $"made-{Guid.NewGuid():N}", Role = "viewer" }, auth);
                    break;
                case "RevokeOperator":
                    var victim = await CreateOperatorAsync("viewer");
                    await client.RevokeOperatorAsync(new RevokeOperatorRequest { OperatorId = victim.Operator.Id }, auth);
                    break;
                default: throw new ArgumentException($"No call for {method}", nameof(method));
            }

            return null;
        }
        catch (RpcException ex)
        {
            return ex;
        }
    }

    private static CreateKeyRequest NewKey(string projectId) =>
        new() { ProjectId = projectId, Environment = "dev", Name = $"k-{Guid.NewGuid():N}", Type = "secret" };

    private static async Task AssertDeniedAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    private static Metadata Bearer(string token) => new() { { "Authorization", $"Bearer {token}" } };

    private static string? Reason(RpcException error) => error.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason;

    public void Dispose() => _channel.Dispose();
}
