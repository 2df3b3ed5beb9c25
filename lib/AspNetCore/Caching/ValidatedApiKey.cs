using System.Security.Claims;
using Keys.ApiKeys;
using Keys.AspNetCore.RateLimiting;
using Keys.AspNetCore.Validation;
using Keys.V1;
using IPNetwork = System.Net.IPNetwork;

namespace Keys.AspNetCore.Caching;

/// <summary>
/// A key KeyValidation found valid (or disabled), as this process keeps it: what it proves (id, project, environment,
/// type, scopes), until when, and what its check needs besides (disabled, its rate limit, its allowed networks and
/// origins). Built once per lookup and shared by every request that presents the key, so everything a request needs
/// from it (the joined scopes, the claims, the parsed allowlists, the rate-limit policy header) is computed once.
/// </summary>
public sealed class ValidatedApiKey
{
    private Claim[]? _claims;
    private ApiKeyIdentity? _identity;

    public ValidatedApiKey(ValidateResponse response, ApiKeyType type, long cachedAtTicks)
    {
        Type = type;
        Scopes = response.Scopes;
        KeyId = response.KeyId;
        TypeName = type.ToName();
        ProjectId = response.ProjectId;
        Environment = response.Environment;
        JoinedScopes = string.Join(',', response.Scopes);
        CachedAtTicks = cachedAtTicks;
        ExpiresAtTicks = response.ExpiresAt?.ToDateTimeOffset().UtcTicks ?? long.MaxValue;
        RevokesAtTicks = response.RevokesAt?.ToDateTimeOffset().UtcTicks ?? long.MaxValue;
        Disabled = response.Outcome == ValidationOutcome.Disabled;
        RateLimit = KeyRateLimit.From(response.RateLimit);
        AllowedNetworks = Allowlists.ParseNetworks(response.AllowedCidrs);
        AllowedOrigins = Allowlists.ParseOrigins(response.AllowedOrigins);
    }

    private ValidatedApiKey(ValidatedApiKey key, long revokesAtTicks)
    {
        Type = key.Type;
        Scopes = key.Scopes;
        KeyId = key.KeyId;
        TypeName = key.TypeName;
        ProjectId = key.ProjectId;
        Environment = key.Environment;
        JoinedScopes = key.JoinedScopes;
        CachedAtTicks = key.CachedAtTicks;
        ExpiresAtTicks = key.ExpiresAtTicks;
        RevokesAtTicks = revokesAtTicks;
        Disabled = key.Disabled;
        RateLimit = key.RateLimit;
        AllowedNetworks = key.AllowedNetworks;
        AllowedOrigins = key.AllowedOrigins;
        _claims = key._claims;
        _identity = key._identity;
    }

    public ApiKeyType Type { get; }

    public IReadOnlyList<string> Scopes { get; }

    public string KeyId { get; }

    /// <summary><c>secret</c> or <c>publishable</c>.</summary>
    public string TypeName { get; }

    public string ProjectId { get; }

    public string Environment { get; }

    /// <summary>The scopes, comma-separated.</summary>
    public string JoinedScopes { get; }

    public long CachedAtTicks { get; }

    // Ticks, so that the hot path compares integers. MaxValue: never.
    public long ExpiresAtTicks { get; }

    public long RevokesAtTicks { get; }

    /// <summary>
    /// Switched off by an operator (KeyValidation answered DISABLED): cached like a valid key, so that it is refused
    /// with no lookup until an invalidation for it arrives.
    /// </summary>
    public bool Disabled { get; }

    /// <summary>The key's rate limit (its own or its project's); null: none, and the check costs nothing more.</summary>
    public KeyRateLimit? RateLimit { get; }

    /// <summary>Client networks the key is accepted from; null: any.</summary>
    public IPNetwork[]? AllowedNetworks { get; }

    /// <summary>Origins the key is accepted from (the request's <c>Origin</c>, exactly); null: any.</summary>
    public string[]? AllowedOrigins { get; }

    /// <summary>The claims a principal for this key carries; <see cref="Claim"/> is immutable, so requests share them.</summary>
    public IReadOnlyList<Claim> Claims => _claims ??= BuildClaims();

    /// <summary>Who the key proves the caller is.</summary>
    public ApiKeyIdentity Identity => _identity ??= new ApiKeyIdentity(KeyId, ProjectId, Environment, Type, Scopes);

    /// <summary>The same key, revoked at <paramref name="revokesAtTicks"/> if that is sooner: revocations only come closer.</summary>
    public ValidatedApiKey WithRevokesAt(long revokesAtTicks) => revokesAtTicks >= RevokesAtTicks ? this : new ValidatedApiKey(this, revokesAtTicks);

    private Claim[] BuildClaims()
    {
        var claims = new Claim[4 + Scopes.Count];
        claims[0] = new Claim(ApiKeyClaimTypes.KeyId, KeyId);
        claims[1] = new Claim(ApiKeyClaimTypes.ProjectId, ProjectId);
        claims[2] = new Claim(ApiKeyClaimTypes.Environment, Environment);
        claims[3] = new Claim(ApiKeyClaimTypes.KeyType, TypeName);
        for (var i = 0; i < Scopes.Count; i++)
        {
            claims[4 + i] = new Claim(ApiKeyClaimTypes.Scope, Scopes[i]);
        }

        return claims;
    }
}
