using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyAdmin.Access;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Invalidation;
using Keys.V1;
using StackExchange.Redis;

namespace Keys.KeyAdmin.Grpc;

public sealed class ManagementApi(
    ProjectStore projects,
    KeyStore store,
    OperatorStore operators,
    AuditLog audit,
    OutboxRelay outbox,
    CacheFlusher flusher,
    TimeProvider time) : KeyAdminService.KeyAdminServiceBase
{
    public override async Task<Project> CreateProject(CreateProjectRequest request, ServerCallContext context) =>
        ToMessage(await projects.CreateProjectAsync(RequestRules.ProjectName(request.Name), context.GetCaller(), context.CancellationToken));

    // An operator limited to projects sees only those (AccessRules lets the call through for this filter).
    public override async Task<ListProjectsResponse> ListProjects(ListProjectsRequest request, ServerCallContext context) =>
        new() { Projects = { (await projects.ListProjectsAsync(context.GetCaller().ProjectIds, context.CancellationToken)).Select(ToMessage) } };

    public override async Task<Project> GetProject(GetProjectRequest request, ServerCallContext context) =>
        ToMessage(await projects.GetProjectAsync(request.ProjectId, context.CancellationToken));

    public override async Task<EnvironmentInfo> CreateEnvironment(CreateEnvironmentRequest request, ServerCallContext context) =>
        ToMessage(await projects.CreateEnvironmentAsync(
            request.ProjectId, RequestRules.EnvironmentName(request.Name), context.GetCaller(), context.CancellationToken));

    public override async Task<CreateKeyResponse> CreateKey(CreateKeyRequest request, ServerCallContext context)
    {
        var newKey = new NewKey(
            request.ProjectId,
            request.Environment,
            RequestRules.KeyName(request.Name),
            RequestRules.KeyType(request.Type),
            RequestRules.KeyScopes(request.Scopes),
            RequestRules.ExpiresAt(request.ExpiresAt, time.GetUtcNow()),
            context.GetCaller());

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
            request.ProjectId, request.Environment, request.KeyId, RequestRules.ConfirmName(request.ConfirmName), context.GetCaller(),
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
            RequestRules.ExpiresAt(request.ExpiresAt, time.GetUtcNow()), context.GetCaller(), context.CancellationToken);
        outbox.Wake();
        return new RollKeyResponse { Key = ToMessage(row), Value = value, PreviousKey = ToMessage(previous) };
    }

    public override async Task<ListAuditEventsResponse> ListAuditEvents(ListAuditEventsRequest request, ServerCallContext context)
    {
        var limit = RequestRules.AuditLimit(request.Limit);
        string? projectId = null;
        if (request.ProjectId.Length > 0)
        {
            await projects.RequireProjectAsync(request.ProjectId, context.CancellationToken);
            projectId = request.ProjectId;
        }

        var events = await audit.ListAsync(projectId, limit, context.CancellationToken);
        return new ListAuditEventsResponse
        {
            Events =
            {
                events.Select(e => new AuditEvent
                {
                    Id = e.Id,
                    Action = e.Action,
                    ActorId = e.ActorId,
                    Actor = e.Actor,
                    ProjectId = e.ProjectId ?? "",
                    Environment = e.Environment ?? "",
                    KeyId = e.KeyId ?? "",
                    KeyName = e.KeyName ?? "",
                    OperatorId = e.OperatorId ?? "",
                    OperatorName = e.OperatorName ?? "",
                    Detail = e.Detail ?? "",
                    OccurredAt = Timestamp.FromDateTime(e.OccurredAt),
                }),
            },
        };
    }

    public override async Task<FlushCachesResponse> FlushCaches(FlushCachesRequest request, ServerCallContext context)
    {
        var target = RequestRules.FlushTarget(request.Target);
        long reached;
        try
        {
            reached = await flusher.FlushAsync(target, context.CancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw ApiErrors.Unavailable("FLUSH_UNAVAILABLE", "Redis, which carries the request to KeyValidation, cannot be reached; nothing was flushed. Retry shortly.");
        }

        await audit.AppendAsync(new AuditEntry("caches.flushed", Detail: request.Target), context.GetCaller(), context.CancellationToken);
        return new FlushCachesResponse { Target = request.Target, ReplicasReached = reached };
    }

    public override Task<Operator> GetCurrentOperator(GetCurrentOperatorRequest request, ServerCallContext context)
    {
        var caller = context.GetCaller();
        return Task.FromResult(caller.Operator is { } row
            ? ToMessage(row)
            : new Operator { Id = caller.Id, Name = caller.Name, Role = caller.Role.ToName() });
    }

    public override async Task<ListOperatorsResponse> ListOperators(ListOperatorsRequest request, ServerCallContext context) =>
        new() { Operators = { (await operators.ListAsync(context.CancellationToken)).Select(ToMessage) } };

    public override async Task<CreateOperatorResponse> CreateOperator(CreateOperatorRequest request, ServerCallContext context)
    {
        var role = RequestRules.OperatorRole(request.Role);
        var newOperator = new NewOperator(
            RequestRules.OperatorName(request.Name),
            role,
            RequestRules.OperatorProjects(role, request.ProjectIds),
            RequestRules.ExpiresAt(request.ExpiresAt, time.GetUtcNow()));
        var (row, token) = await operators.CreateAsync(newOperator, context.GetCaller(), context.CancellationToken);
        return new CreateOperatorResponse { Operator = ToMessage(row), Token = token };
    }

    public override async Task<Operator> RevokeOperator(RevokeOperatorRequest request, ServerCallContext context) =>
        ToMessage(await operators.RevokeAsync(request.OperatorId, context.GetCaller(), context.CancellationToken));

    private static Operator ToMessage(OperatorRow row) => new()
    {
        Id = row.Id,
        Name = row.Name,
        Role = row.Role.ToName(),
        ProjectIds = { row.ProjectIds },
        MaskedToken = row.MaskedToken,
        CreatedAt = Timestamp.FromDateTime(row.CreatedAt),
        CreatedBy = row.CreatedBy,
        ExpiresAt = ToTimestamp(row.ExpiresAt),
        RevokedAt = ToTimestamp(row.RevokedAt),
        RevokedBy = row.RevokedBy ?? "",
    };

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
