using Grpc.Core;
using Keys.Gateway.Caching;
using Keys.ServiceDefaults.Throttling;
using Keys.V1;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Keys.Gateway.Authentication;

/// <summary>
/// Runs in YARP's pipeline, after the route is chosen and before the request is proxied. It checks <c>X-API-Key</c>
/// against the route's policy and replaces whatever identity headers the client sent with the ones the key proves.
/// Everything that the header alone decides (presence, format, checksum, type, browser use) costs no network call;
/// a key seen recently is answered from the near cache, without touching the invalid-key throttle.
/// </summary>
/// <remarks>
/// The decisions are <see cref="KeyCheck"/>'s; this class does the I/O around them: it strips headers, asks the near
/// cache and KeyValidation, spends and refunds throttle permits, writes refusals and proxies the rest.
/// </remarks>
public sealed class KeyAuthenticationMiddleware(
    SharedLookups lookups,
    NearCache nearCache,
    AddressThrottle throttle,
    TimeProvider time,
    IOptions<GatewayOptions> options) : IMiddleware
{
    public const string ApiKeyHeader = "X-API-Key";

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

        var client = context.Connection.RemoteIpAddress;
        var request = new PresentedRequest(
            presented, context.Features.Get<IHttpRequestFeature>()?.RawTarget, headers.ContainsKey(HeaderNames.Origin), sentSecFetch);
        var refusal = KeyCheck.CheckRequest(policy, request, out var key, out var type);
        if (refusal is not null)
        {
            if (KeyCheck.SpendsPermit(refusal) && !throttle.TryReserve(client))
            {
                refusal = _tooManyInvalidKeys;
            }

            await refusal.WriteAsync(context);
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

            refusal = KeyCheck.CheckAnswer(result);
            if (refusal is not null)
            {
                await refusal.WriteAsync(context);
                return;
            }

            known = nearCache.Add(key, result, type);
        }

        refusal = KeyCheck.CheckKey(policy, known, context.Request.Method, context.Request.RouteValues, time.GetUtcNow());
        if (refusal is not null)
        {
            await refusal.WriteAsync(context);
            return;
        }

        KeyCheck.SetIdentityHeaders(headers, known);
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
