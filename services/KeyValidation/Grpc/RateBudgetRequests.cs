using Keys.ApiKeys;
using Keys.KeyValidation.RateLimiting;
using Keys.V1;

namespace Keys.KeyValidation.Grpc;

/// <summary>What makes an <c>AcquireRateBudget</c> request well-formed, with the stable code of each refusal (domain <c>keys.v1</c>).</summary>
public static class RateBudgetRequests
{
    public const long MaxLimit = 1_000_000_000;
    public const int MaxWindowSeconds = 86_400;

    /// <summary>
    /// How far a caller's clock may be from this service's: a window that started up to this much ahead of now, or
    /// ended up to this much before it, is still the caller's current one (the counter outlives its window as long).
    /// </summary>
    public const int ClockSkewSeconds = RateBudgetStore.GraceSeconds;

    /// <summary>
    /// Null when the request can be served at <paramref name="nowSeconds"/> (this service's clock, Unix seconds);
    /// otherwise the reason and message of its INVALID_ARGUMENT.
    /// </summary>
    public static (string Reason, string Message)? Check(AcquireRateBudgetRequest request, long nowSeconds)
    {
        if (!ResourceId.IsWellFormed(request.KeyId, ResourceId.KeyPrefix))
        {
            return ("INVALID_KEY_ID", "key_id must be a key's ID (key_…): the counter is the key's ID, never the key.");
        }

        if (request.Limit is < 1 or > MaxLimit)
        {
            return ("INVALID_RATE_LIMIT", $"limit must be from 1 to {MaxLimit:N0}.");
        }

        if (request.WindowSeconds is < 1 or > MaxWindowSeconds)
        {
            return ("INVALID_RATE_LIMIT", $"window_seconds must be from 1 to {MaxWindowSeconds:N0}.");
        }

        if (request.WindowStart < 0 || request.WindowStart % request.WindowSeconds != 0)
        {
            return ("INVALID_WINDOW_START", "window_start must be a window's start in Unix seconds: a multiple of window_seconds.");
        }

        // Only the window of now: a counter for any other would be created for nothing, or spent before its window
        // opens (a key's whole next day, say).
        if (request.WindowStart > nowSeconds + ClockSkewSeconds || request.WindowStart + request.WindowSeconds < nowSeconds - ClockSkewSeconds)
        {
            return ("INVALID_WINDOW_START", $"window_start must be the start of the current window, by a clock within {ClockSkewSeconds} s of KeyValidation's.");
        }

        if (request.Requested < 1)
        {
            return ("INVALID_REQUESTED", "requested must be at least 1.");
        }

        return null;
    }

    /// <summary>What a well-formed request is drawn for: what it asked, at most its limit.</summary>
    public static long Requested(AcquireRateBudgetRequest request) => Math.Min(request.Requested, request.Limit);
}
