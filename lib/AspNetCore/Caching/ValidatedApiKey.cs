using System.Security.Claims;
using Keys.ApiKeys;
using Keys.V1;

namespace Keys.AspNetCore.Caching;

/// <summary>
/// A key KeyValidation found valid, as this process keeps it: what it proves (id, project, environment, type, scopes)
/// and until when. Built once per lookup and shared by every request that presents the key, so everything a request
/// needs from it (the joined scopes, the claims) is computed once.
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
