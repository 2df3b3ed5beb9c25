using Keys.AspNetCore;
using Keys.AspNetCore.RateLimiting;
using Keys.AspNetCore.Validation;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Keys.Gateway.Authentication;

/// <summary>
/// Runs in YARP's pipeline, after the route is chosen and before the request is proxied. It checks <c>X-API-Key</c>
/// against the route's policy and replaces whatever identity headers the client sent with the ones the key proves.
/// Everything that the header alone decides (presence, format, checksum, type, browser use) costs no network call;
/// a key seen recently is answered from the near cache, without touching the invalid-key throttle. In order: the
/// request alone, the key's validity (revoked, expired, disabled), where it is used from (its networks and origins),
/// the route's type and scope, then the key's rate limit.
/// </summary>
/// <remarks>
/// The decisions are <see cref="KeyCheck"/>'s and <see cref="ApiKeyChecks"/>'; the key's own check (near cache,
/// lookup, throttle) is <see cref="ApiKeyValidator"/>'s and its rate limit <see cref="ApiKeyRateLimiter"/>'s, the ones
/// every service using Keys.AspNetCore runs. This class strips headers, writes refusals and proxies the rest.
/// </remarks>
public sealed class KeyAuthenticationMiddleware(ApiKeyValidator validator, ApiKeyRateLimiter limiter, GatewayMetrics metrics) : IMiddleware
{
    public const string ApiKeyHeader = ApiKeyDefaults.HeaderName;

    // Headers only the gateway may set, and the method overrides some frameworks obey (the gateway checks scopes
    // against the real method, so an upstream must never act on another one).
    private static readonly string[] ClientMayNotSend =
    [
        ApiKeyHeader, KeyCheck.KeyIdHeader, KeyCheck.KeyTypeHeader, KeyCheck.ProjectIdHeader, KeyCheck.EnvironmentHeader, KeyCheck.KeyScopesHeader,
        "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
        // YARP sets the X-Forwarded-* it sends itself; a client's own in '_' spelling would pass it by, and a CGI-style
        // upstream would read it as the real one.
        "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix", "X-Real-IP",
    ];

    private static readonly int ShortestForbidden = ClientMayNotSend.Min(h => h.Length);
    private static readonly int LongestForbidden = ClientMayNotSend.Max(h => h.Length);

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
            metrics.Open();
            await next(context);
            return;
        }

        // The answer depends on the key: a shared cache must never give one key's answer (or refusal) to another.
        // YARP appends the upstream's own Vary values to this one.
        context.Response.Headers.Append(HeaderNames.Vary, ApiKeyHeader);

        var client = context.Connection.RemoteIpAddress;
        var request = new PresentedRequest(
            presented, context.Features.Get<IHttpRequestFeature>()?.RawTarget, headers.ContainsKey(HeaderNames.Origin), sentSecFetch);
        var refusal = KeyCheck.CheckRequest(policy, request, out var key, out var type);
        if (refusal is not null)
        {
            await RefuseAsync(context, validator.Refuse(refusal, client));
            return;
        }

        var result = await validator.ValidateAsync(key, type, client, context.RequestAborted);
        if (result.Key is not { } valid)
        {
            await RefuseAsync(context, result.Refusal!);
            return;
        }

        // A key limited to some origins is answered by Origin too: a shared cache must not give one origin's answer
        // (a pass or ORIGIN_NOT_ALLOWED) to another.
        if (valid.AllowedOrigins is not null)
        {
            context.Response.Headers.Append(HeaderNames.Vary, HeaderNames.Origin);
        }

        // Where the key is used from, then what the route demands of it: a refused request spends none of its limit.
        refusal = ApiKeyChecks.CheckClient(valid, client, headers.Origin)
            ?? KeyCheck.CheckRoute(policy, valid, context.Request.Method, context.Request.RouteValues);
        if (refusal is not null)
        {
            await RefuseAsync(context, refusal);
            return;
        }

        RateLimitDecision? limit = null;
        if (valid.RateLimit is not null)
        {
            var decision = await limiter.AcquireAsync(valid, context.RequestAborted);
            if (decision.Refusal is { } limited)
            {
                await RefuseAsync(context, limited);
                return;
            }

            decision.WriteHeaders(context.Response.Headers);
            limit = decision;
        }

        validator.Metrics.Checked(null);
        KeyCheck.SetIdentityHeaders(headers, valid);
        await next(context);

        // YARP clears the response to answer a failed proxy attempt (502) itself; that answer varies by key too, and
        // the request was counted.
        if (!context.Response.HasStarted && !VariesByKey(context.Response.Headers))
        {
            context.Response.Headers.Append(HeaderNames.Vary, ApiKeyHeader);
            if (valid.AllowedOrigins is not null)
            {
                context.Response.Headers.Append(HeaderNames.Vary, HeaderNames.Origin);
            }

            limit?.WriteHeaders(context.Response.Headers);
        }
    }

    private Task RefuseAsync(HttpContext context, ApiKeyRefusal refusal)
    {
        validator.Metrics.Checked(refusal);
        return refusal.WriteAsync(context);
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
}
