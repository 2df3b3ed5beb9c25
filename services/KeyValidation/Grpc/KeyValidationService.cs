using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyValidation.Caching;
using Keys.V1;
using StackExchange.Redis;

namespace Keys.KeyValidation.Grpc;

public sealed class KeyValidationService(KeyRecordCache cache, TimeProvider time) : V1.KeyValidation.KeyValidationBase
{
    private static readonly ValidateResponse InvalidFormat = new() { Outcome = ValidationOutcome.InvalidFormat };
    private static readonly ValidateResponse NotFound = new() { Outcome = ValidationOutcome.NotFound };
    private static readonly ValidateResponse Revoked = new() { Outcome = ValidationOutcome.Revoked };
    private static readonly ValidateResponse Expired = new() { Outcome = ValidationOutcome.Expired };

    public override async Task<ValidateResponse> Validate(ValidateRequest request, ServerCallContext context)
    {
        // Garbage is answered from the format and checksum alone: no Redis, KeyAdmin or Postgres work.
        if (!KeyString.TryParse(request.Key, out _))
        {
            return InvalidFormat;
        }

        KeyRecord? record;
        try
        {
            record = await cache.GetAsync(KeyString.Hash(request.Key), context.CancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or RpcException { StatusCode: not StatusCode.Cancelled })
        {
            // Fail closed: the caller must not read a dependency failure as "no such key".
            throw new RpcException(new Status(StatusCode.Unavailable, "Key records cannot be read right now."));
        }

        if (record is null)
        {
            return NotFound;
        }

        // Both ends are checked on every call, so a cached record turns at the exact second: a delete's revocation,
        // the end of a roll's grace period, and expiry.
        var now = time.GetUtcNow();
        if (record.RevokedAt is not null && record.RevokedAt.ToDateTimeOffset() <= now)
        {
            return Revoked;
        }

        if (record.ExpiresAt is not null && record.ExpiresAt.ToDateTimeOffset() <= now)
        {
            return Expired;
        }

        return new ValidateResponse
        {
            Outcome = ValidationOutcome.Valid,
            KeyId = record.KeyId,
            ProjectId = record.ProjectId,
            Environment = record.Environment,
            Type = record.Type,
            Scopes = { record.Scopes },
            ExpiresAt = record.ExpiresAt,
        };
    }
}
