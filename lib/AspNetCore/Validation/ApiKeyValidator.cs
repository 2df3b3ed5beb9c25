using System.Net;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Diagnostics;
using Keys.Hosting;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore.Validation;

/// <summary>The key a request presented, found valid (<see cref="Key"/>), or the refusal to answer with.</summary>
public readonly struct ApiKeyResult
{
    public ApiKeyResult(ValidatedApiKey key) => Key = key;

    public ApiKeyResult(ApiKeyRefusal refusal) => Refusal = refusal;

    public ValidatedApiKey? Key { get; }

    public ApiKeyRefusal? Refusal { get; }
}

/// <summary>
/// Checks well-formed keys: from the near cache when it holds the key (no I/O), otherwise through KeyValidation, one
/// lookup per key however many requests wait for it, spending the client address's invalid-key permits on lookups
/// only. Fails closed: when KeyValidation cannot answer, the answer is a 503, never a pass and never a 401.
/// </summary>
public sealed class ApiKeyValidator
{
    private readonly SharedLookups _lookups;
    private readonly NearCache _cache;
    private readonly TimeProvider _time;
    private readonly ApiKeyMetrics _metrics;
    private readonly AddressThrottle _throttle;
    private readonly TimeSpan _timeout;

    public ApiKeyValidator(
        KeyValidationService.KeyValidationServiceClient validation,
        NearCache cache,
        TimeProvider time,
        ApiKeyMetrics metrics,
        IOptions<ApiKeyValidationOptions> options)
    {
        var settings = options.Value;
        _lookups = new SharedLookups(validation);
        _cache = cache;
        _time = time;
        _metrics = metrics;
        _throttle = new AddressThrottle(settings.InvalidKeyLimit, settings.InvalidKeyWindow, time, settings.InvalidKeyMaxAddresses);
        _timeout = settings.ValidationTimeout;
        TooManyInvalidKeys = ApiKeyRefusal.TooManyInvalidKeys((int)Math.Ceiling(_throttle.RetryAfter.TotalSeconds));
    }

    /// <summary>The 429 answered to an address that has sent too many invalid keys.</summary>
    public ApiKeyRefusal TooManyInvalidKeys { get; }

    public ApiKeyMetrics Metrics => _metrics;

    /// <summary>
    /// A refusal decided without a lookup, as the client gets it: garbage spends a permit of the client's address like
    /// an unknown key would, so that once they are spent the answer is 429.
    /// </summary>
    public ApiKeyRefusal Refuse(ApiKeyRefusal refusal, IPAddress? client) =>
        ApiKeyChecks.SpendsPermit(refusal) && !_throttle.TryReserve(client) ? TooManyInvalidKeys : refusal;

    /// <summary>
    /// Checks a key that passed <see cref="ApiKeyChecks.CheckPresented"/>: valid now, or refused. Completes at once for
    /// a key in the near cache.
    /// </summary>
    public ValueTask<ApiKeyResult> ValidateAsync(string key, ApiKeyType type, IPAddress? client, CancellationToken aborted)
    {
        if (_cache.TryGet(key, out var known))
        {
            _metrics.NearCacheHit();
            return new(AtThisInstant(known));
        }

        _metrics.NearCacheMiss();
        return LookUpAsync(key, type, client, aborted);
    }

    private ApiKeyResult AtThisInstant(ValidatedApiKey key) =>
        ApiKeyChecks.CheckValidity(key, _time.GetUtcNow().UtcTicks) is { } refusal ? new(refusal) : new(key);

    private async ValueTask<ApiKeyResult> LookUpAsync(string key, ApiKeyType type, IPAddress? client, CancellationToken aborted)
    {
        using var activity = ApiKeyMetrics.ActivitySource.StartActivity("ApiKey lookup");
        ValidateResponse? answer = null;
        var arrivedAt = _cache.Sequence;
        if (_cache.IsConnected && _lookups.TryJoin(key, out var shared))
        {
            // Another request is looking this key up: its answer serves this one too, if it reflects every invalidation
            // applied here when this request arrived (a delete in between must not be answered with what was true
            // before it). It costs no permit: it caused no lookup.
            activity?.SetTag("keys.lookup", "joined");
            answer = await shared.WaitAsync(aborted);
            if (answer is null)
            {
                return new(ApiKeyRefusal.ValidationUnavailable);
            }

            if (answer.AsOfSequence < arrivedAt)
            {
                answer = null;
            }
        }

        if (answer is null)
        {
            // The permit is taken before the lookup, so that concurrent guesses cannot all pass a check that only their
            // results would update; a throttled address gets no more lookups, which makes guessing expensive.
            activity?.SetTag("keys.lookup", "own");
            if (!_throttle.TryReserve(client))
            {
                return new(TooManyInvalidKeys);
            }

            try
            {
                answer = await _lookups.LookUpAsync(key, _time.GetUtcNow().UtcDateTime + _timeout).WaitAsync(aborted);
            }
            catch (RpcException ex)
            {
                // Unreachable, or refusing this service's own credential, KeyValidation did no lookup and the client
                // learnt nothing, so the permit comes back (a busy client would otherwise be told 429, blamed for an
                // outage or a misconfiguration). Too slow or shedding lookups (DeadlineExceeded, ResourceExhausted),
                // it is overloaded: the permit stays spent, so that the throttle still bounds the load.
                if (ex.StatusCode is StatusCode.Unavailable or StatusCode.Unauthenticated or StatusCode.PermissionDenied)
                {
                    _throttle.Refund(client);
                }

                activity?.SetTag("keys.outcome", ApiKeyRefusal.ValidationUnavailable.Error);
                return new(ApiKeyRefusal.ValidationUnavailable);
            }

            if (answer.Outcome is ValidationOutcome.Valid or ValidationOutcome.Disabled)
            {
                // A real key gives its permit back, valid or switched off: the attempt was no guess.
                _throttle.Refund(client);
            }
        }

        var refusal = ApiKeyChecks.CheckAnswer(answer);
        activity?.SetTag("keys.outcome", refusal?.Error ?? "ok");
        return refusal is null ? AtThisInstant(_cache.Add(key, answer, type)) : new(refusal);
    }
}
