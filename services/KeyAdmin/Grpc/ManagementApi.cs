using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyAdmin.Access;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Invalidation;
using Keys.V1;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using StackExchange.Redis;

namespace Keys.KeyAdmin.Grpc;

public sealed class ManagementApi(
    ProjectStore projects,
    KeyStore store,
    OperatorStore operators,
    AuditLog audit,
    OutboxRelay outbox,
    CacheFlusher flusher,
    PageTokens pageTokens,
    TimeProvider time) : KeyAdminService.KeyAdminServiceBase
{
    public override async Task<Project> CreateProject(CreateProjectRequest request, ServerCallContext context) =>
        ToMessage(await projects.CreateProjectAsync(RequestRules.ProjectName(request.Name), context.GetCaller(), context.CancellationToken));

    // An operator limited to projects sees only those (AccessRules lets the call through for this filter).
    public override async Task<ListProjectsResponse> ListProjects(ListProjectsRequest request, ServerCallContext context)
    {
        var pageSize = RequestRules.PageSize(request.PageSize);
        var after = pageTokens.ReadCursor(request.PageToken, PageTokens.ProjectsScope);
        var (page, next) = await projects.ListProjectsAsync(context.GetCaller().ProjectIds, after, pageSize, context.CancellationToken);
        return new ListProjectsResponse
        {
            Projects = { page.Select(ToMessage) },
            NextPageToken = next is null ? "" : pageTokens.Write(PageTokens.ProjectsScope, next),
        };
    }

    public override async Task<Project> UpdateProject(UpdateProjectRequest request, ServerCallContext context)
    {
        var fields = RequestRules.ProjectUpdateFields(request.UpdateMask, IsRest(context));
        var update = request.Project ?? new ProjectUpdate();
        var changes = new ProjectChanges(
            fields,
            Name: fields.Contains(ProjectField.Name) ? RequestRules.ProjectName(update.Name) : "",
            DefaultRateLimit: fields.Contains(ProjectField.DefaultRateLimit) ? RequestRules.RateLimit(update.DefaultRateLimit) : null,
            MaxSecretKeyLifetimeDays: fields.Contains(ProjectField.MaxSecretKeyLifetimeDays)
                ? RequestRules.LifetimeDays(update.MaxSecretKeyLifetimeDays)
                : null);
        var row = await projects.UpdateProjectAsync(request.ProjectId, changes, context.GetCaller(), context.CancellationToken);

        // A new default rate limit invalidated the keys that follow it.
        outbox.Wake();
        return ToMessage(row);
    }

    public override async Task<Project> GetProject(GetProjectRequest request, ServerCallContext context) =>
        ToMessage(await projects.GetProjectAsync(request.ProjectId, context.CancellationToken));

    public override async Task<EnvironmentInfo> CreateEnvironment(CreateEnvironmentRequest request, ServerCallContext context) =>
        ToMessage(await projects.CreateEnvironmentAsync(
            request.ProjectId, RequestRules.EnvironmentName(request.Name), context.GetCaller(), context.CancellationToken));

    public override async Task<CreateKeyResponse> CreateKey(CreateKeyRequest request, ServerCallContext context)
    {
        var type = RequestRules.KeyType(request.Type);
        var cidrs = RequestRules.AllowedCidrs(request.AllowedCidrs);
        var origins = RequestRules.AllowedOrigins(request.AllowedOrigins);
        RequestRules.Allowlists(type, cidrs, origins);
        var newKey = new NewKey(
            request.ProjectId,
            request.Environment,
            RequestRules.KeyName(request.Name),
            type,
            RequestRules.KeyScopes(request.Scopes),
            RequestRules.ExpiresAt(request.ExpiresAt, time.GetUtcNow()),
            context.GetCaller(),
            RequestRules.RateLimit(request.RateLimit),
            cidrs,
            origins,
            RequestRules.Metadata(request.Metadata));

        var (row, value) = await store.CreateKeyAsync(newKey, context.CancellationToken);
        return new CreateKeyResponse { Key = ToMessage(row), Value = value };
    }

    public override async Task<ListKeysResponse> ListKeys(ListKeysRequest request, ServerCallContext context)
    {
        var pageSize = RequestRules.PageSize(request.PageSize);
        var filter = new KeyListFilter(
            RequestRules.KeyTypeFilter(request.Type), RequestRules.StatusFilter(request.Status), RequestRules.Query(request.Q));
        var scope = PageTokens.KeysScope(request.ProjectId, request.Environment, filter);
        var after = pageTokens.ReadCursor(request.PageToken, scope);
        var (keys, next) = await store.ListKeysAsync(request.ProjectId, request.Environment, filter, after, pageSize, context.CancellationToken);
        return new ListKeysResponse
        {
            Keys = { keys.Select(ToMessage) },
            NextPageToken = next is null ? "" : pageTokens.Write(scope, next),
        };
    }

    public override async Task<ApiKey> UpdateKey(UpdateKeyRequest request, ServerCallContext context)
    {
        var fields = RequestRules.KeyUpdateFields(request.UpdateMask, IsRest(context));
        var update = request.Key ?? new KeyUpdate();
        var changes = new KeyChanges(
            fields,
            Name: fields.Contains(KeyField.Name) ? RequestRules.KeyName(update.Name) : "",
            Scopes: fields.Contains(KeyField.Scopes) ? RequestRules.KeyScopes(update.Scopes) : null,
            ExpiresAt: fields.Contains(KeyField.ExpiresAt) ? RequestRules.ExpiresAt(update.ExpiresAt, time.GetUtcNow()) : null,
            Enabled: update.Enabled,
            RateLimit: fields.Contains(KeyField.RateLimit) ? RequestRules.RateLimit(update.RateLimit) : null,
            AllowedCidrs: fields.Contains(KeyField.AllowedCidrs) ? RequestRules.AllowedCidrs(update.AllowedCidrs) : null,
            AllowedOrigins: fields.Contains(KeyField.AllowedOrigins) ? RequestRules.AllowedOrigins(update.AllowedOrigins) : null,
            Metadata: fields.Contains(KeyField.Metadata) ? RequestRules.Metadata(update.Metadata) : null);

        var (row, invalidated) = await store.UpdateKeyAsync(
            request.ProjectId, request.Environment, request.KeyId, changes, context.GetCaller(), context.CancellationToken);
        if (invalidated)
        {
            outbox.Wake();
        }

        return ToMessage(row);
    }

    public override async Task<ApiKey> FindKey(FindKeyRequest request, ServerCallContext context)
    {
        var value = RequestRules.FindKeyValue(request.Key);
        var (row, _, _) = await store.FindByHashAsync(KeyHash.Of(value).ToArray(), context.CancellationToken);

        // Another project's key reads exactly as no key: a limited token learns nothing of what it may not see.
        if (row is null || !context.GetCaller().MayActOn(row.ProjectId))
        {
            throw ApiErrors.From(KeyAdminException.KeyNotFoundByValue());
        }

        return ToMessage(row);
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
        var pageSize = RequestRules.AuditPageSize(request.PageSize, request.Limit);
        string? projectId = null;
        if (request.ProjectId.Length > 0)
        {
            await projects.RequireProjectAsync(request.ProjectId, context.CancellationToken);
            projectId = request.ProjectId;
        }

        var scope = PageTokens.AuditScope(projectId);
        var before = pageTokens.ReadId(request.PageToken, scope);
        var (events, next) = await audit.ListAsync(projectId, before, pageSize, context.CancellationToken);
        return new ListAuditEventsResponse
        {
            NextPageToken = next is { } last ? pageTokens.Write(scope, last) : "",
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
        DefaultRateLimit = ToMessage(project.DefaultRateLimit),
        MaxSecretKeyLifetimeDays = project.MaxSecretKeyLifetimeDays ?? 0,
    };

    private static RateLimit? ToMessage(RateLimitSetting? rateLimit) => rateLimit is null
        ? null
        : new RateLimit { Limit = rateLimit.Limit, WindowSeconds = rateLimit.WindowSeconds, Mode = rateLimit.Mode };

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
            ProjectId = row.ProjectId,
            Enabled = row.Enabled,
            RateLimit = ToMessage(row.RateLimit),
            AllowedCidrs = { row.AllowedCidrs ?? [] },
            AllowedOrigins = { row.AllowedOrigins ?? [] },
            Metadata = row.Metadata is null ? null : JsonParser.Default.Parse<Struct>(row.Metadata),
            Status = row.Status,
            DeletedAt = ToTimestamp(row.DeletedAt),
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

    // A REST call comes through JSON transcoding, whose endpoints carry this metadata; a gRPC call's do not.
    private static bool IsRest(ServerCallContext context) =>
        context.GetHttpContext().GetEndpoint()?.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is not null;
}
