using System.Net;
using Keys.ApiKeys;
using Keys.AspNetCore.Caching;
using Keys.V1;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Keys.AspNetCore.Validation;

/// <summary>What the client sent that the key check reads.</summary>
/// <param name="ApiKey">Every <c>X-API-Key</c> value (gRPC: <c>x-api-key</c> metadata entry), as sent.</param>
/// <param name="SentOrigin">An <c>Origin</c> header was sent.</param>
/// <param name="SentSecFetch">A <c>Sec-Fetch-*</c> header was sent.</param>
public readonly record struct PresentedKey(StringValues ApiKey, bool SentOrigin = false, bool SentSecFetch = false)
{
    /// <summary>
    /// Reads a request's headers. gRPC metadata arrives as HTTP/2 headers, so a gRPC call's <c>x-api-key</c> entry is
    /// read here too; a binary entry (<c>x-api-key-bin</c>) is another header and never a key.
    /// </summary>
    public static PresentedKey From(IHeaderDictionary headers) => new(
        headers[ApiKeyDefaults.HeaderName],
        headers.ContainsKey(Microsoft.Net.Http.Headers.HeaderNames.Origin),
        // Every browser sends these two on every request; servers and gRPC libraries send neither.
        headers.ContainsKey("Sec-Fetch-Mode") || headers.ContainsKey("Sec-Fetch-Site"));
}

/// <summary>
/// The key check's decisions, free of I/O, shared by the gateway and every service that uses this library. A null
/// refusal is a pass. <see cref="CheckPresented"/> decides what the request alone can (no network call);
/// <see cref="CheckAnswer"/>, <see cref="CheckValidity"/> and <see cref="CheckScope"/> decide on what KeyValidation or
/// the near cache knows of the key. Every refusal is prebuilt, so nothing is allocated.
/// </summary>
public static class ApiKeyChecks
{
    /// <summary>The key's presence, uniqueness, format and checksum, then a secret key from a browser.</summary>
    public static ApiKeyRefusal? CheckPresented(in PresentedKey request, out string key, out ApiKeyType type)
    {
        key = "";
        type = default;
        var presented = request.ApiKey;
        if (presented.Count == 0 || (presented.Count == 1 && string.IsNullOrWhiteSpace(presented[0])))
        {
            return ApiKeyRefusal.MissingKey;
        }

        if (presented.Count > 1 || presented[0]!.Contains(','))
        {
            return ApiKeyRefusal.AmbiguousKey;
        }

        if (!KeyString.TryParse(presented[0]!, out type))
        {
            return ApiKeyRefusal.InvalidKey;
        }

        key = presented[0]!;

        // Browsers add Origin to cross-origin and non-GET requests, and Sec-Fetch-* to every request; servers send neither.
        if (type == ApiKeyType.Secret && (request.SentSecFetch || request.SentOrigin))
        {
            return ApiKeyRefusal.SecretKeyInBrowser;
        }

        return null;
    }

    /// <summary>
    /// Whether a refusal decided without a lookup spends one of the client address's invalid-key permits. Garbage
    /// spends it like an unknown key would; a missing key is not a guess, and neither is a well-formed key used wrongly.
    /// </summary>
    public static bool SpendsPermit(ApiKeyRefusal refusal) => refusal == ApiKeyRefusal.InvalidKey || refusal == ApiKeyRefusal.AmbiguousKey;

    /// <summary>
    /// KeyValidation's answer: null when it describes the key (valid, or disabled), which is then checked as a
    /// <see cref="ValidatedApiKey"/>; a disabled key is cached like a valid one and refused by <see cref="CheckValidity"/>.
    /// </summary>
    public static ApiKeyRefusal? CheckAnswer(ValidateResponse answer) => answer.Outcome switch
    {
        ValidationOutcome.Valid or ValidationOutcome.Disabled => null,
        ValidationOutcome.Expired => ApiKeyRefusal.ExpiredKey,
        ValidationOutcome.Revoked => ApiKeyRefusal.RevokedKey,
        _ => ApiKeyRefusal.InvalidKey,
    };

    /// <summary>
    /// A key KeyValidation described, at <paramref name="nowTicks"/> (UTC): revocation and expiry are checked on every
    /// request, cached or not, so that a key stops at the exact second; a rolled key is revoked at the end of its grace.
    /// Both say more than "disabled" (the key will not come back), so they come first.
    /// </summary>
    public static ApiKeyRefusal? CheckValidity(ValidatedApiKey key, long nowTicks)
    {
        if (nowTicks >= key.RevokesAtTicks)
        {
            return ApiKeyRefusal.RevokedKey;
        }

        if (nowTicks >= key.ExpiresAtTicks)
        {
            return ApiKeyRefusal.ExpiredKey;
        }

        return key.Disabled ? ApiKeyRefusal.DisabledKey : null;
    }

    /// <summary>
    /// Where a valid key is used from: the client's address against its networks (<c>IP_NOT_ALLOWED</c>), then the
    /// request's <c>Origin</c> against its origins (<c>ORIGIN_NOT_ALLOWED</c>; a request without one is refused). A key
    /// without either list passes at the cost of two null checks. <paramref name="client"/> is the address the
    /// connection, or a trusted proxy, names.
    /// </summary>
    public static ApiKeyRefusal? CheckClient(ValidatedApiKey key, IPAddress? client, StringValues origin)
    {
        if (key.AllowedNetworks is { } networks && !Allowlists.Contains(networks, client))
        {
            return ApiKeyRefusal.IpNotAllowed;
        }

        return key.AllowedOrigins is { } origins && !Allowlists.Allows(origins, origin) ? ApiKeyRefusal.OriginNotAllowed : null;
    }

    /// <summary>Whether the key's scopes allow <paramref name="operation"/> on <paramref name="resource"/>.</summary>
    public static ApiKeyRefusal? CheckScope(ValidatedApiKey key, string resource, string? operation) =>
        CheckScope(key.Type, key.Scopes, resource, operation);

    /// <inheritdoc cref="CheckScope(ValidatedApiKey, string, string?)"/>
    public static ApiKeyRefusal? CheckScope(ApiKeyType type, IReadOnlyList<string> scopes, string resource, string? operation)
    {
        if (Scopes.Allow(type, scopes, resource, operation))
        {
            return null;
        }

        // Without scopes, only a publishable key is refused: it may only read.
        return scopes.Count == 0 ? ApiKeyRefusal.PublishableKeyReadOnly : ApiKeyRefusal.ScopeInsufficient;
    }
}
