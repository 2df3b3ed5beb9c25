using Keys.ApiKeys;
using Keys.Gateway.Caching;
using Keys.V1;
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
/// call); <see cref="CheckAnswer"/> and <see cref="CheckKey"/> decide on what KeyValidation or the near cache knows
/// of the key. Every refusal is one of <see cref="ErrorResponse"/>'s prebuilt answers, so nothing is allocated.
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
    public static ErrorResponse? CheckRequest(RoutePolicy policy, in PresentedRequest request, out string key, out ApiKeyType type)
    {
        key = "";
        type = default;

        // Decided on the bytes the client sent: routing saw %2F as part of a segment, but an upstream may decode it
        // into a separator and serve a path the gateway never checked a key against.
        if (HasEncodedSeparator(request.RawTarget))
        {
            return ErrorResponse.InvalidPath;
        }

        var presented = request.ApiKey;
        if (presented.Count == 0 || (presented.Count == 1 && string.IsNullOrWhiteSpace(presented[0])))
        {
            return ErrorResponse.MissingKey;
        }

        if (presented.Count > 1 || presented[0]!.Contains(','))
        {
            return ErrorResponse.AmbiguousKey;
        }

        if (!KeyString.TryParse(presented[0]!, out type))
        {
            return ErrorResponse.InvalidKey;
        }

        key = presented[0]!;

        // Browsers add Origin to cross-origin and non-GET requests, and Sec-Fetch-* to every request; servers send neither.
        if (type == ApiKeyType.Secret && (request.SentSecFetch || request.SentOrigin))
        {
            return ErrorResponse.SecretKeyInBrowser;
        }

        if (!policy.Accepts(type))
        {
            return type == ApiKeyType.Publishable ? ErrorResponse.SecretKeyRequired : ErrorResponse.PublishableKeyRequired;
        }

        return null;
    }

    /// <summary>
    /// Whether a refusal of <see cref="CheckRequest"/> spends one of the client address's invalid-key permits. Garbage
    /// spends it like an unknown key would; a missing key is not a guess, and neither is a well-formed key sent to the
    /// wrong route or from a browser.
    /// </summary>
    public static bool SpendsPermit(ErrorResponse refusal) => refusal == ErrorResponse.InvalidKey || refusal == ErrorResponse.AmbiguousKey;

    /// <summary>KeyValidation's answer: null when the key is valid, and is then checked as a <see cref="KnownKey"/>.</summary>
    public static ErrorResponse? CheckAnswer(ValidateResponse answer) => answer.Outcome switch
    {
        ValidationOutcome.Valid => null,
        ValidationOutcome.Expired => ErrorResponse.ExpiredKey,
        ValidationOutcome.Revoked => ErrorResponse.RevokedKey,
        _ => ErrorResponse.InvalidKey,
    };

    /// <summary>
    /// A key found valid, at <paramref name="now"/>, for <paramref name="method"/> on this route (its
    /// <paramref name="routeValues"/> may name the scope's resource). Revocation and expiry are checked on every
    /// request, cached or not, so that a key stops at the exact second; a rolled key is revoked at the end of its grace.
    /// </summary>
    public static ErrorResponse? CheckKey(RoutePolicy policy, KnownKey known, string method, RouteValueDictionary routeValues, DateTimeOffset now)
    {
        var nowTicks = now.UtcTicks;
        if (nowTicks >= known.RevokesAtTicks)
        {
            return ErrorResponse.RevokedKey;
        }

        if (nowTicks >= known.ExpiresAtTicks)
        {
            return ErrorResponse.ExpiredKey;
        }

        // A route that names no scope admits only keys without scopes: a narrowly scoped key must not pass a route that
        // checks nothing.
        if (!policy.NamesScope)
        {
            return known.Scopes.Count == 0 ? null : ErrorResponse.RouteNamesNoScope;
        }

        var resource = policy.ScopeResource ?? routeValues[policy.ScopeResourceFrom!]?.ToString() ?? "";
        var operation = policy.ScopeOperation ?? Scopes.OperationOf(method);
        if (Scopes.Allow(known.Type, known.Scopes, resource, operation))
        {
            return null;
        }

        // Without scopes, only a publishable key is refused here: it may only read.
        return known.Scopes.Count == 0 ? ErrorResponse.PublishableKeyReadOnly : ErrorResponse.ScopeInsufficient;
    }

    /// <summary>What the upstream learns of a key that passed: the identity it proves, in place of the key itself.</summary>
    public static void SetIdentityHeaders(IHeaderDictionary headers, KnownKey known)
    {
        headers[KeyIdHeader] = known.KeyId;
        headers[KeyTypeHeader] = known.KeyType;
        headers[ProjectIdHeader] = known.ProjectId;
        headers[EnvironmentHeader] = known.Environment;
        headers[KeyScopesHeader] = known.KeyScopes;
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
