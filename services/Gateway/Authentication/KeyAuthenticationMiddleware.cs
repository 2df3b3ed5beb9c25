using Grpc.Core;
using Keys.ApiKeys;
using Keys.Gateway.Caching;
using Keys.ServiceDefaults.Throttling;
using Keys.V1;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Keys.Gateway.Authentication;

/// <summary>
/// Runs in YARP's pipeline, after the route is chosen and before the request is proxied. It checks <c>X-API-Key</c>
/// against the route's policy and replaces whatever identity headers the client sent with the ones the key proves.
/// Everything that the header alone decides (presence, format, checksum, type, browser use) costs no network call;
/// a key seen recently is answered from the near cache, without touching the invalid-key throttle.
/// </summary>
public sealed class KeyAuthenticationMiddleware(
    SharedLookups lookups,
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

    // Headers only the gateway may set, and the method overrides some frameworks obey (the gateway checks scopes
    // against the real method, so an upstream must never act on another one).
    private static readonly string[] ClientMayNotSend =
    [
        ApiKeyHeader, KeyIdHeader, KeyTypeHeader, ProjectIdHeader, EnvironmentHeader, KeyScopesHeader,
        "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
        // YARP sets the X-Forwarded-* it sends itself; a client's own in '_' spelling would pass it by, and a CGI-style
        // upstream would read it as the real one.
        "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix", "X-Real-IP",
    ];

    private static readonly int ShortestForbidden = ClientMayNotSend.Min(h => h.Length);
    private static readonly int LongestForbidden = ClientMayNotSend.Max(h => h.Length);

    private readonly TimeSpan _timeout = options.Value.ValidationTimeout;
    private readonly ErrorResponse _tooManyInvalidKeys = ErrorResponse.TooManyInvalidKeys((int)Math.Ceiling(throttle.RetryAfter.TotalSeconds));

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Request.Headers;
        var presented = headers[ApiKeyHeader];

        // Identity headers are the gateway's word, never the client's; the key itself never goes upstream; a method
        // override never reaches an upstream that might obey it.
        var sentSecFetch = RemoveForbiddenHeaders(headers);

        var policy = RoutePolicy.For(context.GetReverseProxyFeature().Route.Config);
        if (!policy.RequiresKey)
        {
            await next(context);
            return;
        }

        // The answer depends on the key: a shared cache must never give one key's answer (or refusal) to another.
        // YARP appends the upstream's own Vary values to this one.
        context.Response.Headers.Append(HeaderNames.Vary, ApiKeyHeader);

        // Decided on the bytes the client sent: routing saw %2F as part of a segment, but an upstream may decode it
        // into a separator and serve a path the gateway never checked a key against.
        if (HasEncodedSeparator(context.Features.Get<IHttpRequestFeature>()?.RawTarget))
        {
            await ErrorResponse.InvalidPath.WriteAsync(context);
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

        // Browsers add Origin to cross-origin and non-GET requests, and Sec-Fetch-* to every request; servers send neither.
        if (type == ApiKeyType.Secret && (sentSecFetch || headers.ContainsKey(HeaderNames.Origin)))
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
            ValidateResponse? result = null;
            var arrivedAt = nearCache.Sequence;
            if (nearCache.IsConnected && lookups.TryJoin(key, out var shared))
            {
                // Another request is looking this key up: its answer serves this one too, if it reflects every
                // invalidation this gateway had applied when this request arrived (a delete in between must not be
                // answered with what was true before it). It costs no permit: it caused no lookup.
                var answer = await shared.WaitAsync(context.RequestAborted);
                if (answer is null)
                {
                    await ErrorResponse.ValidationUnavailable.WriteAsync(context);
                    return;
                }

                if (answer.AsOfSequence >= arrivedAt)
                {
                    result = answer;
                }
            }

            result ??= await LookUpAsync(context, key, client);
            if (result is null)
            {
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

        // YARP clears the response to answer a failed proxy attempt (502) itself; that answer varies by key too.
        if (!context.Response.HasStarted && !VariesByKey(context.Response.Headers))
        {
            context.Response.Headers.Append(HeaderNames.Vary, ApiKeyHeader);
        }
    }

    /// <summary>
    /// This request's own lookup. The permit is taken before it, so that concurrent guesses cannot all pass a check
    /// that only their results would update; a throttled address gets no more lookups, which makes guessing expensive.
    /// Null when the request has been answered (429 or 503).
    /// </summary>
    private async Task<ValidateResponse?> LookUpAsync(HttpContext context, string key, System.Net.IPAddress? client)
    {
        if (!throttle.TryReserve(client))
        {
            await _tooManyInvalidKeys.WriteAsync(context);
            return null;
        }

        ValidateResponse result;
        try
        {
            result = await lookups.LookUpAsync(key, DateTime.UtcNow + _timeout).WaitAsync(context.RequestAborted);
        }
        catch (RpcException ex)
        {
            // Fail closed, and say so: a dependency failure is never a pass, nor a 401 that blames a good key.
            // Unreachable, KeyValidation did no work and the client learnt nothing, so the permit comes back (a
            // busy client would otherwise stay throttled after the outage). Too slow or shedding lookups
            // (DeadlineExceeded, ResourceExhausted), it is overloaded: the permit stays spent, so that the
            // throttle still bounds the load.
            if (ex.StatusCode == StatusCode.Unavailable)
            {
                throttle.Refund(client);
            }

            await ErrorResponse.ValidationUnavailable.WriteAsync(context);
            return null;
        }

        if (result.Outcome == ValidationOutcome.Valid)
        {
            // A valid key gives its permit back: the attempt was no guess.
            throttle.Refund(client);
        }

        return result;
    }

    /// <summary>
    /// Removes every header in <see cref="ClientMayNotSend"/> in any spelling: case-insensitive, and with <c>_</c> for
    /// <c>-</c>, since CGI, WSGI and Rack upstreams read <c>X_Key_Id</c> as <c>X-Key-Id</c>. One pass over the
    /// headers, which also says whether any <c>Sec-Fetch-*</c> was sent; nothing is allocated unless something matches.
    /// </summary>
    private static bool RemoveForbiddenHeaders(IHeaderDictionary headers)
    {
        List<string>? forbidden = null;
        var sentSecFetch = false;
        foreach (var header in headers)
        {
            var name = header.Key;
            if (IsForbidden(name))
            {
                (forbidden ??= []).Add(name);
            }
            else if (name.StartsWith("Sec-Fetch-", StringComparison.OrdinalIgnoreCase))
            {
                sentSecFetch = true;
            }
        }

        if (forbidden is not null)
        {
            foreach (var name in forbidden)
            {
                headers.Remove(name);
            }
        }

        return sentSecFetch;
    }

    private static bool IsForbidden(string name)
    {
        // Every forbidden name is "X-…": most headers are ruled out by their length or first two characters.
        if (name.Length < ShortestForbidden || name.Length > LongestForbidden || (name[0] | 0x20) != 'x' || name[1] is not ('-' or '_'))
        {
            return false;
        }

        foreach (var forbidden in ClientMayNotSend)
        {
            if (SameHeader(name, forbidden))
            {
                return true;
            }
        }

        return false;
    }

    // ASCII case-insensitive, '_' standing for '-'. The forbidden names hold only letters and '-', and (c | 0x20)
    // equals a lowercase letter only for that letter in either case.
    private static bool SameHeader(string name, string canonical)
    {
        if (name.Length != canonical.Length)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var expected = canonical[i];
            if (expected == '-' ? c is not ('-' or '_') : (c | 0x20) != (expected | 0x20))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An encoded <c>/</c> or <c>\</c> (<c>%2F</c>, <c>%5C</c>, either case) or a raw <c>\</c> in the path part of the request target.</summary>
    private static bool HasEncodedSeparator(string? rawTarget)
    {
        if (rawTarget is null)
        {
            return false;
        }

        var path = rawTarget.AsSpan();
        var query = path.IndexOf('?');
        if (query >= 0)
        {
            path = path[..query];
        }

        for (var i = path.IndexOfAny('%', '\\'); i >= 0; i = path.IndexOfAny('%', '\\'))
        {
            if (path[i] == '\\'
                || (i + 2 < path.Length && ((path[i + 1] == '2' && (path[i + 2] | 0x20) == 'f') || (path[i + 1] == '5' && (path[i + 2] | 0x20) == 'c'))))
            {
                return true;
            }

            path = path[(i + 1)..];
        }

        return false;
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

    private static bool VariesByKey(IHeaderDictionary headers)
    {
        foreach (var value in headers.Vary)
        {
            if (value?.Contains(ApiKeyHeader, StringComparison.OrdinalIgnoreCase) == true)
            {
                return true;
            }
        }

        return false;
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
}
