using Grpc.Core;
using Keys.ApiKeys;
using Keys.Gateway.Caching;
using Keys.ServiceDefaults.Throttling;
using Keys.V1;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Keys.Gateway.Authentication;

/// <summary>
/// Runs in YARP's pipeline, after the route is chosen and before the request is proxied. It checks <c>X-API-Key</c>
/// against the route's policy and replaces whatever identity headers the client sent with the ones the key proves.
/// Everything that the header alone decides (presence, format, checksum, type, browser use) costs no network call;
/// a key seen recently is answered from the near cache, without touching the invalid-key throttle.
/// </summary>
public sealed class KeyAuthenticationMiddleware(
    V1.KeyValidation.KeyValidationClient validation,
    NearCache nearCache,
    AddressThrottle throttle,
    TimeProvider time,
    IOptions<GatewayOptions> options) : IMiddleware
{
    public const string ApiKeyHeader = "X-API-Key";
    public const string KeyIdHeader = "X-Key-Id";
    public const string KeyTypeHeader = "X-Key-Type";
    public const string ProjectIdHeader = "X-Project-Id";
    public const string EnvironmentHeader = "X-Environment";
    public const string KeyScopesHeader = "X-Key-Scopes";

    private readonly TimeSpan _timeout = options.Value.ValidationTimeout;
    private readonly ErrorResponse _tooManyInvalidKeys = ErrorResponse.TooManyInvalidKeys((int)Math.Ceiling(throttle.RetryAfter.TotalSeconds));

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Request.Headers;
        var presented = headers[ApiKeyHeader];

        // Identity headers are the gateway's word, never the client's; the key itself never goes upstream.
        headers.Remove(ApiKeyHeader);
        headers.Remove(KeyIdHeader);
        headers.Remove(KeyTypeHeader);
        headers.Remove(ProjectIdHeader);
        headers.Remove(EnvironmentHeader);
        headers.Remove(KeyScopesHeader);

        var policy = RoutePolicy.For(context.GetReverseProxyFeature().Route.Config);
        if (!policy.RequiresKey)
        {
            await next(context);
            return;
        }

        var client = context.Connection.RemoteIpAddress;
        var rejection = Precheck(presented, out var key, out var type);
        if (rejection is not null)
        {
            // Garbage spends the address's allowance like an unknown key; a missing key is not a guess.
            if (rejection != ErrorResponse.MissingKey && !throttle.TryReserve(client))
            {
                rejection = _tooManyInvalidKeys;
            }

            await rejection.WriteAsync(context);
            return;
        }

        if (type == ApiKeyType.Secret && IsFromBrowser(headers))
        {
            await ErrorResponse.SecretKeyInBrowser.WriteAsync(context);
            return;
        }

        if (!policy.Accepts(type))
        {
            await (type == ApiKeyType.Publishable ? ErrorResponse.SecretKeyRequired : ErrorResponse.PublishableKeyRequired).WriteAsync(context);
            return;
        }

        if (!nearCache.TryGet(key, out var known))
        {
            // The permit is taken before the lookup, so that concurrent guesses cannot all pass a check that only
            // their results would update. A throttled address gets no more lookups: that makes guessing expensive.
            if (!throttle.TryReserve(client))
            {
                await _tooManyInvalidKeys.WriteAsync(context);
                return;
            }

            ValidateResponse result;
            try
            {
                result = await validation.ValidateAsync(
                    new ValidateRequest { Key = key },
                    deadline: DateTime.UtcNow + _timeout,
                    cancellationToken: context.RequestAborted);
            }
            catch (RpcException ex) when (!context.RequestAborted.IsCancellationRequested)
            {
                // Fail closed, and say so: a dependency failure is never a pass, nor a 401 that blames a good key.
                // Unreachable, KeyValidation did no work and the client learnt nothing, so the permit comes back (a
                // busy client would otherwise stay throttled after the outage). Too slow, it may be overloaded: the
                // permit stays spent, so that the throttle still bounds the load.
                if (ex.StatusCode == StatusCode.Unavailable)
                {
                    throttle.Refund(client);
                }

                await ErrorResponse.ValidationUnavailable.WriteAsync(context);
                return;
            }

            if (result.Outcome != ValidationOutcome.Valid)
            {
                await (result.Outcome switch
                {
                    ValidationOutcome.Expired => ErrorResponse.ExpiredKey,
                    ValidationOutcome.Revoked => ErrorResponse.RevokedKey,
                    _ => ErrorResponse.InvalidKey,
                }).WriteAsync(context);
                return;
            }

            // A valid key gives its permit back: the attempt was no guess.
            throttle.Refund(client);
            known = nearCache.Add(key, result, type);
        }

        // Checked on every request, cached or not, so that a key stops at the exact second.
        var now = time.GetUtcNow().UtcTicks;
        if (now >= known.RevokesAtTicks)
        {
            await ErrorResponse.RevokedKey.WriteAsync(context);
            return;
        }

        if (now >= known.ExpiresAtTicks)
        {
            await ErrorResponse.ExpiredKey.WriteAsync(context);
            return;
        }

        var scopeRefusal = CheckScopes(policy, known, context);
        if (scopeRefusal is not null)
        {
            await scopeRefusal.WriteAsync(context);
            return;
        }

        headers[KeyIdHeader] = known.KeyId;
        headers[KeyTypeHeader] = known.KeyType;
        headers[ProjectIdHeader] = known.ProjectId;
        headers[EnvironmentHeader] = known.Environment;
        headers[KeyScopesHeader] = known.KeyScopes;
        await next(context);
    }

    /// <summary>
    /// What a key may do here: a route that names its scope (from a route value, or fixed) is checked against the
    /// key's scopes and the operation; a route that names none admits only keys without scopes.
    /// </summary>
    private static ErrorResponse? CheckScopes(RoutePolicy policy, KnownKey known, HttpContext context)
    {
        if (!policy.NamesScope)
        {
            return known.Scopes.Count == 0 ? null : ErrorResponse.RouteNamesNoScope;
        }

        var resource = policy.ScopeResource ?? context.GetRouteValue(policy.ScopeResourceFrom!)?.ToString() ?? "";
        var operation = policy.ScopeOperation ?? Scopes.OperationOf(context.Request.Method);
        if (Scopes.Allow(known.Type, known.Scopes, resource, operation))
        {
            return null;
        }

        return known.Scopes.Count == 0 ? ErrorResponse.PublishableKeyReadOnly : ErrorResponse.ScopeInsufficient;
    }

    /// <summary>Everything that can be decided from the header alone: presence, uniqueness, format and checksum.</summary>
    private static ErrorResponse? Precheck(StringValues presented, out string key, out ApiKeyType type)
    {
        key = "";
        type = default;
        if (presented.Count == 0 || (presented.Count == 1 && string.IsNullOrWhiteSpace(presented[0])))
        {
            return ErrorResponse.MissingKey;
        }

        if (presented.Count > 1 || presented[0]!.Contains(','))
        {
            return ErrorResponse.AmbiguousKey;
        }

        key = presented[0]!;
        return KeyString.TryParse(key, out type) ? null : ErrorResponse.InvalidKey;
    }

    // Browsers add Origin to cross-origin and non-GET requests, and Sec-Fetch-* to every request; servers send neither.
    private static bool IsFromBrowser(IHeaderDictionary headers)
    {
        if (headers.ContainsKey("Origin"))
        {
            return true;
        }

        foreach (var header in headers)
        {
            if (header.Key.StartsWith("Sec-Fetch-", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
