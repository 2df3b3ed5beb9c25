using Keys.ApiKeys;
using Keys.AspNetCore;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Validation;
using Microsoft.Extensions.Primitives;

namespace Keys.Gateway.Authentication;

/// <summary>What the client sent that the key check reads, taken before the gateway strips the headers it may not forward.</summary>
/// <param name="ApiKey">Every <c>X-API-Key</c> value, as sent.</param>
/// <param name="RawTarget">The request target as sent, still percent-encoded; null when the server does not say.</param>
/// <param name="SentOrigin">An <c>Origin</c> header was sent.</param>
/// <param name="SentSecFetch">Any <c>Sec-Fetch-*</c> header was sent.</param>
public readonly record struct PresentedRequest(StringValues ApiKey, string? RawTarget = null, bool SentOrigin = false, bool SentSecFetch = false);

/// <summary>
/// The gateway's decision on a request to a route that needs a key, free of I/O: the caller reads the request, does the
/// lookups and the throttling, and writes the answer. A null refusal is a pass. The checks run in two stages because a
/// lookup may fall between them: <see cref="CheckRequest"/> decides what the request alone can (and costs no network
/// call); <see cref="CheckRoute"/> decides on the key that <see cref="ApiKeyValidator"/> found valid. What is not about
/// routes is <see cref="ApiKeyChecks"/>'s, the same check every service using Keys.AspNetCore makes. Every refusal is
/// prebuilt, so nothing is allocated.
/// </summary>
public static class KeyCheck
{
    public const string KeyIdHeader = "X-Key-Id";
    public const string KeyTypeHeader = "X-Key-Type";
    public const string ProjectIdHeader = "X-Project-Id";
    public const string EnvironmentHeader = "X-Environment";
    public const string KeyScopesHeader = "X-Key-Scopes";

    /// <summary>
    /// Everything the request alone decides, in this order: the path, then the key's presence, uniqueness, format and
    /// checksum, then a secret key from a browser, then the key's type against the route.
    /// </summary>
    public static ApiKeyRefusal? CheckRequest(RoutePolicy policy, in PresentedRequest request, out string key, out ApiKeyType type)
    {
        key = "";
        type = default;

        // Decided on the bytes the client sent: routing saw %2F as part of a segment, but an upstream may decode it
        // into a separator and serve a path the gateway never checked a key against.
        if (HasEncodedSeparator(request.RawTarget))
        {
            return GatewayRefusals.InvalidPath;
        }

        var refusal = ApiKeyChecks.CheckPresented(new PresentedKey(request.ApiKey, request.SentOrigin, request.SentSecFetch), out key, out type);
        if (refusal is not null)
        {
            return refusal;
        }

        if (!policy.Accepts(type))
        {
            return type == ApiKeyType.Publishable ? GatewayRefusals.SecretKeyRequired : GatewayRefusals.PublishableKeyRequired;
        }

        return null;
    }

    /// <summary>
    /// A key found valid (revocation and expiry included) for <paramref name="method"/> on this route: its
    /// <paramref name="routeValues"/> may name the scope's resource.
    /// </summary>
    public static ApiKeyRefusal? CheckRoute(RoutePolicy policy, ValidatedApiKey key, string method, RouteValueDictionary routeValues)
    {
        // A route that names no scope admits only keys without scopes: a narrowly scoped key must not pass a route that
        // checks nothing.
        if (!policy.NamesScope)
        {
            return key.Scopes.Count == 0 ? null : GatewayRefusals.RouteNamesNoScope;
        }

        var resource = policy.ScopeResource ?? routeValues[policy.ScopeResourceFrom!]?.ToString() ?? "";
        return ApiKeyChecks.CheckScope(key, resource, policy.ScopeOperation ?? Scopes.OperationOf(method));
    }

    /// <summary>What the upstream learns of a key that passed: the identity it proves, in place of the key itself.</summary>
    public static void SetIdentityHeaders(IHeaderDictionary headers, ValidatedApiKey key)
    {
        headers[KeyIdHeader] = key.KeyId;
        headers[KeyTypeHeader] = key.TypeName;
        headers[ProjectIdHeader] = key.ProjectId;
        headers[EnvironmentHeader] = key.Environment;
        headers[KeyScopesHeader] = key.JoinedScopes;
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
}
