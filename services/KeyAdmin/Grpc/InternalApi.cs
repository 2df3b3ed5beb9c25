using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Invalidation;
using Keys.V1;

namespace Keys.KeyAdmin.Grpc;

/// <summary>
/// What KeyValidation needs from the owner of keys. Only callers with a service credential reach it
/// (<see cref="Keys.ServiceAuth.ServiceCredentialInterceptor"/>); the operator's token is not one.
/// </summary>
public sealed class InternalApi(KeyStore store, Outbox outbox, TimeProvider time) : KeyAdminInternalService.KeyAdminInternalServiceBase
{
    public const int MaxChanges = 10_000;
    public const int MaxUsages = 10_000;

    public override async Task<LookupKeyResponse> LookupKey(LookupKeyRequest request, ServerCallContext context)
    {
        if (request.KeyHash.Length != KeyHash.Length)
        {
            throw ApiErrors.InvalidArgument("INVALID_KEY_HASH", "key_hash is the 32-byte SHA-256 of a key.");
        }

        var (row, projectDefault, asOf) = await store.FindByHashAsync(request.KeyHash.ToByteArray(), context.CancellationToken);
        return new LookupKeyResponse { Record = row is null ? null : ToRecord(row, projectDefault), AsOfSequence = asOf };
    }

    public override async Task<ChangesResponse> Changes(ChangesRequest request, ServerCallContext context)
    {
        if (request.SinceSequence < 0 || request.Limit is < 0 or > MaxChanges)
        {
            throw ApiErrors.InvalidArgument("INVALID_CHANGES_REQUEST", $"since_sequence is 0 or more; limit is from 1 to {MaxChanges}.");
        }

        // Polled every second by every KeyValidation replica: not worth a trace (nor its queries' spans) each time.
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        var (changes, head) = await outbox.ChangesSinceAsync(
            request.SinceSequence, request.Limit == 0 ? MaxChanges : request.Limit, context.CancellationToken);
        if (Outbox.IsTooOld(request.SinceSequence, changes.Count > 0 ? changes[0].Sequence : null))
        {
            // An error, not a field of the answer: a caller that does not know of pruning must not apply what is left
            // as if nothing were missing.
            throw ChangesTooOld(request.SinceSequence, changes[0].Sequence, head);
        }

        return new ChangesResponse
        {
            HeadSequence = head,
            Changes = { changes.Select(c => c.ToMessage()) },
        };
    }

    public override async Task<RecordUsageResponse> RecordUsage(RecordUsageRequest request, ServerCallContext context)
    {
        if (request.Usages.Count > MaxUsages)
        {
            throw ApiErrors.InvalidArgument("TOO_MANY_USAGES", $"At most {MaxUsages} usages per call.");
        }

        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        if (request.Usages.Count > 0)
        {
            // A key cannot have been used later than now: a clock running ahead (or a forged time) must not make a
            // key look in use for the future, which would hide it from anyone looking for unused keys.
            var now = time.GetUtcNow().UtcDateTime;
            await store.RecordUsageAsync(
                [.. request.Usages
                    .Where(u => u.LastUsedAt is not null && ResourceId.IsWellFormed(u.KeyId, ResourceId.KeyPrefix))
                    .Select(u => (u.KeyId, UsedAt: u.LastUsedAt.ToDateTime() is var at && at > now ? now : at))],
                context.CancellationToken);
        }

        return new RecordUsageResponse();
    }

    /// <summary>
    /// FAILED_PRECONDITION, reason <c>CHANGES_TOO_OLD</c>: changes after <paramref name="since"/> were pruned. The
    /// ErrorInfo's metadata says from where the outbox is whole (<c>oldest_sequence</c>) and its head
    /// (<c>head_sequence</c>); the caller flushes what it cached and carries on from the head.
    /// </summary>
    public static RpcException ChangesTooOld(long since, long oldest, long head)
    {
        var info = new Google.Rpc.ErrorInfo { Reason = ChangesTooOldReason, Domain = ApiErrors.Domain };
        info.Metadata.Add("oldest_sequence", oldest.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.Metadata.Add("head_sequence", head.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new Google.Rpc.Status
        {
            Code = (int)Google.Rpc.Code.FailedPrecondition,
            Message = $"Changes after sequence {since} were pruned from the outbox; it holds sequences from {oldest} to {head}. Flush caches and continue from {head}.",
            Details = { Google.Protobuf.WellKnownTypes.Any.Pack(info) },
        }.ToRpcException();
    }

    public const string ChangesTooOldReason = "CHANGES_TOO_OLD";

    /// <summary>
    /// What validation needs of a key: its settings, with the rate limit that applies (its own, else its project's
    /// default). The operator's metadata is not among them: it never leaves the management API.
    /// </summary>
    public static KeyRecord ToRecord(KeyRow row, RateLimitSetting? projectDefault) => new()
    {
        KeyId = row.Id,
        ProjectId = row.ProjectId,
        Environment = row.Environment,
        Type = row.Type == ApiKeyType.Secret ? KeyType.Secret : KeyType.Publishable,
        Scopes = { row.Scopes },
        ExpiresAt = ManagementApi.ToTimestamp(row.ExpiresAt),
        RevokesAt = ManagementApi.ToTimestamp(row.RevokesAt),
        Disabled = !row.Enabled,
        RateLimit = (row.RateLimit ?? projectDefault) is { } limit
            ? new RateLimitRule
            {
                Limit = limit.Limit,
                WindowSeconds = limit.WindowSeconds,
                Mode = limit.Mode == RateLimitSetting.Global ? RateLimitMode.Global : RateLimitMode.Local,
            }
            : null,
        AllowedCidrs = { row.AllowedCidrs ?? [] },
        AllowedOrigins = { row.AllowedOrigins ?? [] },
    };
}
