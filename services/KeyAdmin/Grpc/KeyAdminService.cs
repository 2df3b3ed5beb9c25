using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Invalidation;
using Keys.V1;

namespace Keys.KeyAdmin.Grpc;

public sealed class KeyAdminService(KeyStore store, InvalidationPublisher invalidations, TimeProvider time) : V1.KeyAdmin.KeyAdminBase
{
    public override async Task<Project> CreateProject(CreateProjectRequest request, ServerCallContext context)
    {
        var project = await store.CreateProjectAsync(RequestRules.ProjectName(request.Name), context.CancellationToken);
        return new Project
        {
            Id = project.Id,
            Name = project.Name,
            CreatedAt = Timestamp.FromDateTime(project.CreatedAt),
            Environments = { project.Environments.Select(name => new V1.Environment { Name = name }) },
        };
    }

    public override async Task<CreateKeyResponse> CreateKey(CreateKeyRequest request, ServerCallContext context)
    {
        var newKey = new NewKey(
            request.ProjectId,
            request.Environment,
            RequestRules.KeyName(request.Name),
            RequestRules.KeyType(request.Type),
            RequestRules.KeyScopes(request.Scopes),
            RequestRules.ExpiresAt(request.ExpiresAt, time.GetUtcNow()));

        await RequireEnvironmentAsync(request.ProjectId, request.Environment, context.CancellationToken);
        try
        {
            var (row, value) = await store.CreateKeyAsync(newKey, context.CancellationToken);
            return new CreateKeyResponse { Key = ToMessage(row), Value = value };
        }
        catch (KeyNameTakenException ex)
        {
            throw ApiErrors.AlreadyExists("KEY_NAME_TAKEN", ex.Message);
        }
    }

    public override async Task<ListKeysResponse> ListKeys(ListKeysRequest request, ServerCallContext context)
    {
        await RequireEnvironmentAsync(request.ProjectId, request.Environment, context.CancellationToken);
        var keys = await store.ListKeysAsync(request.ProjectId, request.Environment, context.CancellationToken);
        return new ListKeysResponse { Keys = { keys.Select(ToMessage) } };
    }

    public override async Task<DeleteKeyResponse> DeleteKey(DeleteKeyRequest request, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.ConfirmName))
        {
            throw ApiErrors.InvalidArgument("CONFIRM_NAME_REQUIRED", "Type the key's name as confirmName to delete it.");
        }

        await RequireEnvironmentAsync(request.ProjectId, request.Environment, context.CancellationToken);
        var (outcome, keyHash) = await store.DeleteKeyAsync(
            request.ProjectId, request.Environment, request.KeyId, request.ConfirmName, context.CancellationToken);
        switch (outcome)
        {
            case DeleteOutcome.NotFound:
                throw ApiErrors.NotFound("KEY_NOT_FOUND", $"Key '{request.KeyId}' does not exist in this environment.");
            case DeleteOutcome.NameMismatch:
                throw ApiErrors.InvalidArgument("CONFIRM_NAME_MISMATCH", "confirmName does not match the key's name; nothing was deleted.");
        }

        await invalidations.PublishAsync(keyHash!);
        return new DeleteKeyResponse { Id = request.KeyId, Deleted = true };
    }

    public override async Task<LookupKeyResponse> LookupKey(LookupKeyRequest request, ServerCallContext context)
    {
        if (request.KeyHash.Length != KeyString.HashLength)
        {
            throw ApiErrors.InvalidArgument("INVALID_KEY_HASH", "key_hash is the 32-byte SHA-256 of a key.");
        }

        var row = await store.FindByHashAsync(request.KeyHash.ToByteArray(), context.CancellationToken);
        return row is null ? new LookupKeyResponse() : new LookupKeyResponse { Record = ToRecord(row) };
    }

    private async Task RequireEnvironmentAsync(string projectId, string environment, CancellationToken cancellationToken)
    {
        switch (await store.FindEnvironmentAsync(projectId, environment, cancellationToken))
        {
            case EnvironmentLookup.ProjectNotFound:
                throw ApiErrors.ProjectNotFound(projectId);
            case EnvironmentLookup.EnvironmentNotFound:
                throw ApiErrors.EnvironmentNotFound(projectId, environment);
        }
    }

    private static V1.ApiKey ToMessage(KeyRow row)
    {
        var message = new V1.ApiKey
        {
            Id = row.Id,
            Name = row.Name,
            Type = row.Type.ToName(),
            MaskedKey = row.MaskedKey,
            Scopes = { row.Scopes },
            CreatedAt = Timestamp.FromDateTime(row.CreatedAt),
            ExpiresAt = ToTimestamp(row.ExpiresAt),
            LastUsedAt = ToTimestamp(row.LastUsedAt),
        };
        if (row.PublishableValue is not null)
        {
            message.Value = row.PublishableValue;
        }

        return message;
    }

    private static KeyRecord ToRecord(KeyRow row) => new()
    {
        KeyId = row.Id,
        ProjectId = row.ProjectId,
        Environment = row.Environment,
        Type = row.Type == ApiKeyType.Secret ? KeyType.Secret : KeyType.Publishable,
        Scopes = { row.Scopes },
        ExpiresAt = ToTimestamp(row.ExpiresAt),
        RevokedAt = ToTimestamp(row.DeletedAt),
    };

    private static Timestamp? ToTimestamp(DateTime? value) => value is { } v ? Timestamp.FromDateTime(v) : null;
}
