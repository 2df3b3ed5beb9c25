using System.Security.Claims;
using Keys.ApiKeys;
using Keys.AspNetCore.Authentication;
using Keys.AspNetCore.Caching;
using Keys.V1;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// The identity a key proves shares the key's claims across requests instead of copying them: it must still read as an
/// ordinary identity, and what one request adds to it must never reach another.
/// </summary>
public sealed class ApiKeyClaimsIdentityTests
{
    private readonly ValidatedApiKey _key = new(
        new ValidateResponse { Outcome = ValidationOutcome.Valid, KeyId = "key_a", ProjectId = "prj_b", Environment = "prod", Scopes = { "orders:read", "orders:create" } },
        ApiKeyType.Secret,
        cachedAtTicks: 0);

    [Fact]
    public void IdentityReadsAsTheKeysClaimsAndIsNamedByTheKeyId()
    {
        var identity = new ApiKeyClaimsIdentity(_key, ApiKeyDefaults.AuthenticationScheme);

        Assert.True(identity.IsAuthenticated);
        Assert.Equal("key_a", identity.Name);
        Assert.Equal("prj_b", identity.FindFirst(ApiKeyClaimTypes.ProjectId)?.Value);
        Assert.Equal(["orders:read", "orders:create"], identity.FindAll(ApiKeyClaimTypes.Scope).Select(c => c.Value));
        Assert.Equal("secret", identity.FindFirst(ApiKeyClaimTypes.KeyType)?.Value);
    }

    [Fact]
    public void ClaimAddedByOneRequestStaysInThatRequestsIdentity()
    {
        var first = new ApiKeyClaimsIdentity(_key, ApiKeyDefaults.AuthenticationScheme);
        var second = new ApiKeyClaimsIdentity(_key, ApiKeyDefaults.AuthenticationScheme);

        first.AddClaim(new Claim("role", "admin"));

        Assert.True(first.HasClaim("role", "admin"));
        Assert.False(second.HasClaim("role", "admin"));
        Assert.Equal(4 + 2, second.Claims.Count());
    }

    [Fact]
    public void CloneKeepsTheKeyAndTheAddedClaimsOnce()
    {
        var identity = new ApiKeyClaimsIdentity(_key, ApiKeyDefaults.AuthenticationScheme);
        identity.AddClaim(new Claim("role", "admin"));

        var clone = Assert.IsType<ApiKeyClaimsIdentity>(identity.Clone());

        Assert.Same(_key, clone.Key);
        Assert.Equal(identity.Claims.Select(c => (c.Type, c.Value)), clone.Claims.Select(c => (c.Type, c.Value)));
    }

    [Fact]
    public void PrincipalOfTheIdentityGivesTheCallersApiKey()
    {
        var principal = new ClaimsPrincipal(new ApiKeyClaimsIdentity(_key, ApiKeyDefaults.AuthenticationScheme));

        var caller = principal.GetApiKey();

        Assert.NotNull(caller);
        Assert.Equal(("key_a", "prj_b", "prod", ApiKeyType.Secret), (caller.KeyId, caller.ProjectId, caller.Environment, caller.Type));
        Assert.Equal(["orders:read", "orders:create"], caller.Scopes);
    }

    [Fact]
    public void IdentityOfAnotherSchemeWithAKeysClaimNamesIsNoKey()
    {
        // A bearer token whose issuer put key_id, key_type and scope claims in it: still not an API key.
        var token = new ClaimsPrincipal(new ClaimsIdentity(
            [
                new Claim(ApiKeyClaimTypes.KeyId, "key_forged"),
                new Claim(ApiKeyClaimTypes.ProjectId, "prj_b"),
                new Claim(ApiKeyClaimTypes.KeyType, "secret"),
                new Claim(ApiKeyClaimTypes.Scope, "orders:*"),
            ],
            "Bearer"));

        Assert.Null(token.GetApiKey());
    }
}
