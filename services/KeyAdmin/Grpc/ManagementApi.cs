using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Invalidation;
using Keys.V1;

namespace Keys.KeyAdmin.Grpc;

public sealed class ManagementApi(
    ProjectStore projects,
    KeyStore store,
    AuditLog audit,
    OutboxRelay outbox,
    TimeProvider time) : KeyAdminService.KeyAdminServiceBase
{
    // The admin token is the only principal there is; audit records say it was used.
    private const string Actor = "admin-token";

    public override async Task<Project> CreateProject(CreateProjectRequest request, ServerCallContext context) =>
        ToMessage(await projects.CreateProjectAsync(RequestRules.ProjectName(request.Name), context.CancellationToken));

    public override async Task<ListProjectsResponse> ListProjects(ListProjectsRequest request, ServerCallContext context) =>
        new() { Projects = { (await projects.ListProjectsAsync(context.CancellationToken)).Select(ToMessage) } };

    public override async Task<Project> GetProject(GetProjectRequest request, ServerCallContext context) =>
        ToMessage(await projects.GetProjectAsync(request.ProjectId, context.CancellationToken));

    public override async Task<EnvironmentInfo> CreateEnvironment(CreateEnvironmentRequest request, ServerCallContext context) =>
        ToMessage(await projects.CreateEnvironmentAsync(request.ProjectId, RequestRules.EnvironmentName(request.Name), context.CancellationToken));

    public override async Task<CreateKeyResponse> CreateKey(CreateKeyRequest request, ServerCallContext context)
    {
        var newKey = new NewKey(
            request.ProjectId,
            request.Environment,
            RequestRules.KeyName(request.Name),
            RequestRules.KeyType(request.Type),
            RequestRules.KeyScopes(request.Scopes),
            RequestRules.ExpiresAt(request.ExpiresAt, time.GetUtcNow()),
            Actor);

        var (row, value) = await store.CreateKeyAsync(newKey, context.CancellationToken);
        return new CreateKeyResponse { Key = ToMessage(row), Value = value };
    }

    public override async Task<ListKeysResponse> ListKeys(ListKeysRequest request, ServerCallContext context)
    {
        var keys = await store.ListKeysAsync(request.ProjectId, request.Environment, context.CancellationToken);
        return new ListKeysResponse { Keys = { keys.Select(ToMessage) } };
    }

    public override async Task<DeleteKeyResponse> DeleteKey(DeleteKeyRequest request, ServerCallContext context)
    {
        await store.DeleteKeyAsync(
            request.ProjectId, request.Environment, request.KeyId, RequestRules.ConfirmName(request.ConfirmName), Actor,
            context.CancellationToken);

        // Committed: the outbox guarantees delivery. The relay publishes within milliseconds; the call never waits for
        // Redis, so a stalled Redis delays the invalidation (which KeyValidation's catch-up also finds) but not the answer.
        outbox.Wake();
        return new DeleteKeyResponse { Id = request.KeyId, Deleted = true };
    }

    public override async Task<RollKeyResponse> RollKey(RollKeyRequest request, ServerCallContext context)
    {
        var (row, value, previous) = await store.RollKeyAsync(
            request.ProjectId, request.Environment, request.KeyId, RequestRules.GracePeriod(request.GracePeriodSeconds),
            RequestRules.ExpiresAt(request.ExpiresAt, time.GetUtcNow()), Actor, context.CancellationToken);
        outbox.Wake();
        return new RollKeyResponse { Key = ToMessage(row), Value = value, PreviousKey = ToMessage(previous) };
    }

    public override async Task<ListAuditEventsResponse> ListAuditEvents(ListAuditEventsRequest request, ServerCallContext context)
    {
        var events = await audit.ListAsync(request.ProjectId, RequestRules.AuditLimit(request.Limit), context.CancellationToken);
        return new ListAuditEventsResponse
        {
            Events =
            {
                events.Select(e => new AuditEvent
                {
                    Id = e.Id,
                    Action = e.Action,
                    KeyId = e.KeyId,
                    KeyName = e.KeyName,
                    Environment = e.Environment,
                    Actor = e.Actor,
                    OccurredAt = Timestamp.FromDateTime(e.OccurredAt),
                }),
            },
        };
    }

    private static Project ToMessage(ProjectRow project) => new()
    {
        Id = project.Id,
        Name = project.Name,
        CreatedAt = Timestamp.FromDateTime(project.CreatedAt),
        Environments = { project.Environments.Select(ToMessage) },
    };

    private static EnvironmentInfo ToMessage(EnvironmentRow environment) => new()
    {
        Name = environment.Name,
        CreatedAt = Timestamp.FromDateTime(environment.CreatedAt),
    };

    private static ApiKey ToMessage(KeyRow row)
    {
        var message = new ApiKey
        {
            Id = row.Id,
            Name = row.Name,
            Type = row.Type.ToName(),
            Environment = row.Environment,
            MaskedKey = row.MaskedKey,
            Scopes = { row.Scopes },
            CreatedAt = Timestamp.FromDateTime(row.CreatedAt),
            CreatedBy = row.CreatedBy ?? "",
            ExpiresAt = ToTimestamp(row.ExpiresAt),
            LastUsedAt = ToTimestamp(row.LastUsedAt),
            RevokesAt = ToTimestamp(row.RevokesAt),
        };
        if (row.PublishableValue is not null)
        {
            message.Value = row.PublishableValue;
        }

        if (row.RolledFrom is not null)
        {
            message.RolledFrom = row.RolledFrom;
        }

        return message;
    }

    internal static Timestamp? ToTimestamp(DateTime? value) => value is { } v ? Timestamp.FromDateTime(v) : null;
}
