using Keys.V1;

namespace Keys.KeyValidation.Grpc;

/// <summary>What <c>Validate</c> answers for a key's record at an instant: the outcome, and for a key that exists and works
/// (or is only switched off) what callers need to check it themselves.</summary>
public static class ValidationAnswers
{
    /// <summary>
    /// Both ends are checked on every call, so that a cached record turns at the exact second: a delete's revocation,
    /// the end of a roll's grace period, and expiry. They come before DISABLED: a revoked or expired key will not come
    /// back, whatever its switch says. A record cached before KeyAdmin knew of switches, limits and allowlists (fields
    /// 8 to 11 absent) reads as enabled, unlimited and usable from anywhere, which it was.
    /// </summary>
    public static ValidateResponse Evaluate(KeyRecord? record, DateTimeOffset now, long asOf)
    {
        if (record is null)
        {
            return new ValidateResponse { Outcome = ValidationOutcome.NotFound, AsOfSequence = asOf };
        }

        if (record.RevokesAt is not null && record.RevokesAt.ToDateTimeOffset() <= now)
        {
            return new ValidateResponse { Outcome = ValidationOutcome.Revoked, AsOfSequence = asOf };
        }

        if (record.ExpiresAt is not null && record.ExpiresAt.ToDateTimeOffset() <= now)
        {
            return new ValidateResponse { Outcome = ValidationOutcome.Expired, AsOfSequence = asOf };
        }

        // A disabled key is described like a valid one, so that callers may cache the answer until the key's next
        // invalidation and refuse it without asking again.
        return new ValidateResponse
        {
            Outcome = record.Disabled ? ValidationOutcome.Disabled : ValidationOutcome.Valid,
            KeyId = record.KeyId,
            ProjectId = record.ProjectId,
            Environment = record.Environment,
            Type = record.Type,
            Scopes = { record.Scopes },
            ExpiresAt = record.ExpiresAt,
            RevokesAt = record.RevokesAt,
            AsOfSequence = asOf,
            RateLimit = record.RateLimit,
            AllowedCidrs = { record.AllowedCidrs },
            AllowedOrigins = { record.AllowedOrigins },
        };
    }
}
