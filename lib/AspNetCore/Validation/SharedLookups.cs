using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Keys.V1;

namespace Keys.AspNetCore.Validation;

/// <summary>
/// Concurrent near-cache misses for one key share one <c>Validate</c> call. Without it, a busy client whose key just
/// left the near cache (a flush, a reconnect) would send one lookup per request in flight, and spend the invalid-key
/// throttle's permits on a key that is valid.
/// </summary>
internal sealed class SharedLookups(KeyValidationService.KeyValidationServiceClient validation)
{
    // Faulted lookups complete with null rather than an exception: nobody may be waiting to observe one.
    private readonly ConcurrentDictionary<string, Task<ValidateResponse?>> _inFlight = new(StringComparer.Ordinal);

    /// <summary>The lookup already under way for this key; it completes with null when it failed.</summary>
    public bool TryJoin(string key, [NotNullWhen(true)] out Task<ValidateResponse?>? lookup) => _inFlight.TryGetValue(key, out lookup);

    /// <summary>
    /// Looks the key up, for this request and for any that join meanwhile. It does not stop when this request's client
    /// goes away (others may be waiting on it): the deadline bounds it.
    /// </summary>
    public async Task<ValidateResponse> LookUpAsync(string key, DateTime deadline)
    {
        var shared = new TaskCompletionSource<ValidateResponse?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var registered = _inFlight.TryAdd(key, shared.Task);
        try
        {
            var response = await validation.ValidateAsync(new ValidateRequest { Key = key }, deadline: deadline);
            shared.TrySetResult(response);
            return response;
        }
        catch
        {
            shared.TrySetResult(null);
            throw;
        }
        finally
        {
            if (registered)
            {
                _inFlight.TryRemove(new KeyValuePair<string, Task<ValidateResponse?>>(key, shared.Task));
            }
        }
    }
}
